//! The OpenAPI contract: valid OpenAPI 3 (checked by a validator that is not ours), every
//! route the server registers documented, and a docs page served whole by the server.

use crate::helpers::{declared_routes, spawn_app};
use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn the_contract_is_valid_openapi_and_documents_every_api_route() {
    let app = spawn_app();
    let response = app.get_with_headers("/api/v1/openapi.json", &[]);
    assert_eq!(response.status, 200);
    let spec = response.body;
    assert!(
        spec["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3."))
    );

    let mut validator = Command::new("python3")
        .args([
            "-c",
            "import json, sys\nfrom openapi_spec_validator import validate\nvalidate(json.load(sys.stdin))",
        ])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    validator
        .stdin
        .take()
        .expect("stdin")
        .write_all(spec.to_string().as_bytes())
        .expect("the contract is written");
    let checked = validator.wait_with_output().expect("the validator ends");
    assert!(
        checked.status.success(),
        "openapi-spec-validator (installed by scripts/test.sh) rejects the contract: {}",
        String::from_utf8_lossy(&checked.stderr)
    );

    let documented: Vec<(String, String)> = spec["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("a path item")
                .keys()
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect();
    let missing: Vec<_> = declared_routes()
        .into_iter()
        .filter(|(_, path)| path.starts_with("/api/v1/") && path != "/api/v1/openapi.json")
        .filter(|route| !documented.contains(route))
        .collect();
    assert!(
        missing.is_empty(),
        "routes without documentation: {missing:?}"
    );

    let create_sale = &spec["paths"]["/api/v1/stores/{store_id}/sales"]["post"];
    assert_eq!(
        create_sale["responses"]["409"]["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/ProblemJson"
    );
    let parameters: Vec<&str> = create_sale["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(parameters.contains(&"Idempotency-Key") && parameters.contains(&"store_id"));
    assert!(spec["components"]["securitySchemes"]["bearer"].is_object());
    // A store's routes may meet an instance that does not own the store; others never.
    assert!(create_sale["responses"]["421"].is_object(), "{create_sale}");
    let allocate =
        &spec["paths"]["/api/v1/logistics/restock-requests/{request_id}/allocate"]["post"];
    assert!(allocate["responses"]["421"].is_object(), "{allocate}");
    let products = &spec["paths"]["/api/v1/products"]["get"];
    assert!(products["responses"]["421"].is_null(), "{products}");
    // Chain-wide answers say whether every instance answered.
    let coverage = &spec["components"]["schemas"]["Coverage"]["properties"];
    for field in ["partial", "missing_stores", "missing_instances"] {
        assert!(coverage[field].is_object(), "Coverage.{field}: {coverage}");
    }
    let report = &spec["components"]["schemas"]["SalesReport"];
    assert!(
        report["allOf"].as_array().is_some_and(|all| all
            .iter()
            .any(|s| s["$ref"] == "#/components/schemas/Coverage")),
        "{report}"
    );
}

#[test]
fn the_docs_page_and_every_asset_it_uses_come_from_the_server() {
    let app = spawn_app();
    let page = ureq::get(&app.url("/docs")).call().expect("the docs page");
    assert!(page.content_type().starts_with("text/html"));
    let html = page.into_string().expect("html");
    let mut assets: Vec<String> = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for piece in html.split(attribute).skip(1) {
            let target = piece.split('"').next().expect("a quoted target").to_owned();
            assert!(
                !target.contains("://"),
                "the page loads {target} from elsewhere"
            );
            assets.push(target);
        }
    }
    assert!(
        assets.iter().any(|a| a.ends_with(".js")) && assets.iter().any(|a| a.ends_with(".css"))
    );
    assets.push("/api/v1/openapi.json".to_owned());
    for asset in &assets {
        let response = ureq::get(&app.url(asset))
            .call()
            .unwrap_or_else(|e| panic!("{asset}: {e}"));
        assert_eq!(response.status(), 200, "{asset}");
        let text = response.into_string().expect("text");
        // The viewer names namespaces and links in its text; what it fetches is checked in
        // a browser (`browser::the_api_docs_page_fetches_only_from_the_server`).
        for cdn in ["https://cdn", "unpkg.com", "jsdelivr", "cdnjs"] {
            assert!(!text.contains(cdn), "{asset} reaches outside: {cdn}");
        }
    }
}
