//! Every error a client can get, as RFC 9457 `application/problem+json`, mapped in one
//! place. Each match below names every variant (no `_` arm): a new error cannot reach a
//! client unmapped. Codes are stable English; `detail` is French, for the people at the
//! till. A 5xx says only "erreur interne" and an id; the cause goes to the log.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{Value, json};
use std::fmt;

use crate::actors::{ChainActorError, RegistryError, StoreError};
use crate::auth::AuthError;
use crate::domain::{
    AdjustmentError, ChainError, LinesError, ReturnError, SaleError, StoreId, ValueError,
};
use crate::domain::{PurchaseError, TransferError, TransferStatus};
use crate::domain::{RestockError, RestockStatus, TenderError, TillError};

/// The RFC 9457 body of every error.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ProblemJson {
    /// `urn:magasin:problem:<code>`.
    #[serde(rename = "type")]
    kind: String,
    /// Short English title.
    title: &'static str,
    status: u16,
    /// What happened, in French.
    detail: String,
    /// Stable English code (docs/errors.md).
    code: &'static str,
    /// One object per invalid field or failing line, when relevant.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    errors: Vec<Value>,
    /// `urn:magasin:request:<X-Request-Id>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    instance: Option<String>,
}

/// One invalid field of a request.
#[derive(Debug, Clone, Serialize)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub detail: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, error: ValueError) -> Self {
        Self {
            field: field.into(),
            code: value_code(error),
            detail: value_detail(error),
        }
    }
}

fn value_code(error: ValueError) -> &'static str {
    match error {
        ValueError::StoreId => "invalid_store_id",
        ValueError::Sku => "invalid_sku",
        ValueError::Ean13 => "invalid_barcode",
        ValueError::Quantity => "invalid_quantity",
        ValueError::Counted => "invalid_count",
        ValueError::Delta => "invalid_delta",
        ValueError::Price => "invalid_price",
        ValueError::StoreCode => "invalid_store_code",
        ValueError::Label { .. } => "invalid_text",
        ValueError::IdempotencyKey => "invalid_idempotency_key",
        ValueError::Username => "invalid_username",
        ValueError::Role => "invalid_role",
        ValueError::RoleScope => "invalid_role_scope",
        ValueError::Password => "weak_password",
        ValueError::SamePassword => "same_password",
        ValueError::EventTypes => "invalid_event_types",
        ValueError::WebhookUrl => "invalid_webhook_url",
        ValueError::RestockId => "invalid_restock_id",
        ValueError::RestockStatus => "invalid_status",
        ValueError::Till => "invalid_till",
        ValueError::Discount => "invalid_discount",
        ValueError::TaxClass => "invalid_tax_class",
        ValueError::Amount => "invalid_amount",
        ValueError::DamageReason => "invalid_damage_reason",
        ValueError::MissingOutcome => "invalid_missing_outcome",
        ValueError::SupplierCode => "invalid_supplier_code",
        ValueError::OrderStatus => "invalid_status",
        ValueError::LeadTime => "invalid_lead_time",
        ValueError::UnitCost => "invalid_unit_cost",
        ValueError::OrderQuantity => "invalid_quantity",
        ValueError::TransferStatus => "invalid_status",
    }
}

fn value_detail(error: ValueError) -> String {
    match error {
        ValueError::StoreId => "Un numéro de magasin est un entier positif.".into(),
        ValueError::Sku => "Un code SKU compte de 3 à 32 caractères : A-Z, 0-9 et « - ».".into(),
        ValueError::Ean13 => {
            "Un code-barres EAN-13 compte 13 chiffres et un chiffre de contrôle valide.".into()
        }
        ValueError::Quantity => "La quantité doit être un entier de 1 à 10 000.".into(),
        ValueError::Counted => "La quantité comptée doit être un entier de 0 à 1 000 000.".into(),
        ValueError::Delta => {
            "L'écart doit être un entier non nul de -1 000 000 à 1 000 000.".into()
        }
        ValueError::Price => "Le prix est un nombre entier de cents de 0 à 100 000 000.".into(),
        ValueError::StoreCode => {
            "Un code de magasin compte de 2 à 24 caractères : A-Z, 0-9 et « - ».".into()
        }
        ValueError::Label { max } => {
            format!("Texte de 1 à {max} caractères, sans caractère de contrôle.")
        }
        ValueError::IdempotencyKey => {
            "L'en-tête Idempotency-Key compte de 1 à 200 caractères ASCII imprimables.".into()
        }
        ValueError::Username => {
            "Un nom d'utilisateur compte de 3 à 32 caractères : a-z, 0-9, « . », « - » et « _ »."
                .into()
        }
        ValueError::Role => "Le rôle est cashier, manager, logistics ou admin.".into(),
        ValueError::RoleScope => {
            "Caissiers et gestionnaires ont un magasin ; logistique et administration n'en ont pas."
                .into()
        }
        ValueError::Password => "Le mot de passe compte de 8 à 128 caractères.".into(),
        ValueError::SamePassword => "Le nouveau mot de passe doit différer de l'actuel.".into(),
        ValueError::EventTypes => {
            "events : [\"*\"] ou de 1 à 50 types d'événements (minuscules et _).".into()
        }
        ValueError::WebhookUrl => "L'adresse doit être une URL https absolue, vers une cible \
             publique (http et les adresses privées seulement si la configuration les permet)."
            .into(),
        ValueError::RestockId => {
            "Un numéro de demande s'écrit <magasin>-<numéro>, par exemple 3-12.".into()
        }
        ValueError::RestockStatus => {
            "Le statut est requested, allocated, shipped, received, rejected ou cancelled.".into()
        }
        ValueError::Till => "Une caisse est un numéro de 1 à 99.".into(),
        ValueError::Discount => {
            "Un rabais est un pourcentage de 1 à 100 ou un montant en cents supérieur à 0.".into()
        }
        ValueError::TaxClass => {
            "La catégorie de taxe est taxable, zero_rated (détaxé) ou exempt (exonéré).".into()
        }
        ValueError::Amount => "Un montant est un entier de cents de 0 à 100 000 000.".into(),
        ValueError::DamageReason => "Une raison de bris est broken, expired, wet ou other.".into(),
        ValueError::MissingOutcome => "Des unités manquantes sont lost ou found.".into(),
        ValueError::SupplierCode => {
            "Un code de fournisseur compte de 2 à 24 caractères : A-Z, 0-9 et « - ».".into()
        }
        ValueError::OrderStatus => {
            "Le statut est open, partially_received, received ou closed.".into()
        }
        ValueError::LeadTime => "Le délai est un nombre entier de jours de 0 à 365.".into(),
        ValueError::UnitCost => {
            "Le coût unitaire est un nombre entier de cents de 0 à 100 000 000.".into()
        }
        ValueError::OrderQuantity => {
            "La quantité commandée doit être un entier de 1 à 1 000 000.".into()
        }
        ValueError::TransferStatus => "Le statut est requested, shipped ou received.".into(),
    }
}

#[derive(Debug)]
pub enum ApiError {
    Validation(Vec<FieldError>),
    MalformedBody(String),
    PayloadTooLarge,
    UnsupportedMediaType,
    InvalidQuery(String),
    InvalidPath(String),
    RouteNotFound,
    StoreNotFound(StoreId),
    ProductNotFound(String),
    WebhookNotFound(u32),
    /// Lines naming SKUs that are not in the catalog.
    UnknownSkus(Vec<Value>),
    Store(StoreError),
    Chain(ChainActorError),
    Registry(RegistryError),
    /// A read model on disk could not be read.
    Figures(crate::reports::ReadError),
    Auth(AuthError),
    /// A fault of ours (a blocking task failed, state missing); logged, never shown.
    Internal(String),
    /// A store request reached an instance that does not own the store.
    NotOwner {
        store: StoreId,
        owner: String,
    },
    /// An internal call without a valid cluster token.
    ClusterUnauthenticated,
    /// Another instance needed for the answer did not answer.
    PeerUnavailable(String),
    /// A follower's copy of the reference data is not a prefix of the owner's journal.
    ChainDiverged(String),
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        ApiError::Auth(e)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Store(e)
    }
}

impl From<ChainActorError> for ApiError {
    fn from(e: ChainActorError) -> Self {
        ApiError::Chain(e)
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::UnknownStore(id) => ApiError::StoreNotFound(id),
            other => ApiError::Registry(other),
        }
    }
}

impl From<crate::cluster::feed::FeedError> for ApiError {
    fn from(e: crate::cluster::feed::FeedError) -> Self {
        use crate::cluster::feed::FeedError;
        match e {
            FeedError::Diverged(why) => ApiError::ChainDiverged(why),
            FeedError::Unavailable(cause) => ApiError::Internal(cause),
        }
    }
}

impl From<crate::reports::ReadError> for ApiError {
    fn from(e: crate::reports::ReadError) -> Self {
        ApiError::Figures(e)
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<Vec<FieldError>> for ApiError {
    fn from(errors: Vec<FieldError>) -> Self {
        ApiError::Validation(errors)
    }
}

/// Structural errors of a list of lines, named by field.
pub fn lines_error(error: LinesError) -> ApiError {
    let field = match &error {
        LinesError::Empty | LinesError::TooMany => "lines".to_owned(),
        LinesError::Duplicate { index, .. } => format!("lines[{index}].sku"),
    };
    let (code, detail) = match error {
        LinesError::Empty => ("no_lines", "Il faut au moins une ligne.".to_owned()),
        LinesError::TooMany => (
            "too_many_lines",
            format!("Au plus {} lignes par opération.", crate::domain::MAX_LINES),
        ),
        LinesError::Duplicate { sku, .. } => (
            "duplicate_line",
            format!("Le SKU {sku} apparaît deux fois ; regroupez les quantités sur une ligne."),
        ),
    };
    ApiError::Validation(vec![FieldError {
        field,
        code,
        detail,
    }])
}

/// What a problem document says, before serialization.
struct Problem {
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    detail: String,
    errors: Vec<Value>,
    /// For 5xx only: what goes to the log, never to the client.
    cause: Option<String>,
    /// Seconds, for 429 and 503.
    retry_after: Option<u64>,
}

fn problem(
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    detail: impl Into<String>,
) -> Problem {
    Problem {
        status,
        code,
        title,
        detail: detail.into(),
        errors: Vec::new(),
        cause: None,
        retry_after: None,
    }
}

fn with_errors(mut p: Problem, errors: Vec<Value>) -> Problem {
    p.errors = errors;
    p
}

fn internal(cause: &dyn fmt::Display) -> Problem {
    let mut p = problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Internal error",
        "erreur interne",
    );
    p.cause = Some(cause.to_string());
    p
}

/// Another instance did not answer: the same problem HAProxy gives for a stopped one.
fn peer_unavailable(why: &str) -> Problem {
    tracing::warn!(reason = %why, "another instance did not answer");
    let mut p = problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "instance_unavailable",
        "Instance unavailable",
        "Une autre instance de la chaîne ne répond pas ; réessayez dans quelques secondes.",
    );
    p.retry_after = Some(5);
    p
}

/// The journal (or the history) refused a write: the disk is failing or full. Nothing of
/// the write is acknowledged; the store recovers from its journal at the next request.
fn journal_unavailable(cause: &dyn fmt::Display) -> Problem {
    let mut p = problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "journal_unavailable",
        "Journal unavailable",
        "Le journal n'accepte pas d'écriture pour le moment ; rien n'a été enregistré par \
         cette requête, réessayez dans quelques secondes.",
    );
    p.cause = Some(cause.to_string());
    p.retry_after = Some(5);
    p
}

fn unavailable(detail: &str) -> Problem {
    let mut p = problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "Service unavailable",
        detail,
    );
    p.retry_after = Some(1);
    p
}

fn unknown_skus(errors: Vec<Value>) -> Problem {
    let detail = format!("{} produit(s) inconnu(s) au catalogue.", errors.len());
    with_errors(
        problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_sku",
            "Unknown SKU",
            detail,
        ),
        errors,
    )
}

/// A counted receipt whose lines do not add up to what was shipped: a 400 naming each line
/// (`lines[i]`, or `lines` for a shipped line the body leaves out). Nothing was received.
fn receipt_mismatch(lines: &[crate::domain::ReceiptMismatch]) -> Problem {
    let errors = lines
        .iter()
        .map(|l| {
            let field = l
                .index
                .map_or_else(|| "lines".to_owned(), |i| format!("lines[{i}]"));
            json!({
                "field": field,
                "code": "receipt_mismatch",
                "sku": l.sku.as_str(),
                "shipped": l.shipped,
                "counted": l.counted,
                "detail": format!(
                    "{} : reçu + endommagé + manquant = {}, mais {} unité(s) ont été expédiées.",
                    l.sku, l.counted, l.shipped
                ),
            })
        })
        .collect();
    with_errors(
        problem(
            StatusCode::BAD_REQUEST,
            "receipt_mismatch",
            "Receipt does not match the shipment",
            format!(
                "{} ligne(s) de la réception ne correspondent pas à l'expédition ; rien n'a été reçu.",
                lines.len()
            ),
        ),
        errors,
    )
}

fn skus_json(skus: &[crate::domain::Sku]) -> Vec<Value> {
    skus.iter().map(|s| json!({ "sku": s.as_str() })).collect()
}

fn to_values<T: Serialize>(items: &[T]) -> Vec<Value> {
    items
        .iter()
        .filter_map(|i| serde_json::to_value(i).ok())
        .collect()
}

impl ApiError {
    fn problem(&self) -> Problem {
        match self {
            ApiError::Validation(errors) => with_errors(
                problem(
                    StatusCode::BAD_REQUEST,
                    "validation_failed",
                    "Validation failed",
                    "La requête contient des champs invalides.",
                ),
                to_values(errors),
            ),
            ApiError::MalformedBody(why) => with_errors(
                problem(
                    StatusCode::BAD_REQUEST,
                    "malformed_body",
                    "Malformed body",
                    "Le corps de la requête n'est pas un JSON valide pour cette opération.",
                ),
                vec![json!({ "field": "body", "code": "malformed_body", "detail": why })],
            ),
            ApiError::PayloadTooLarge => problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Payload too large",
                "Le corps de la requête est trop volumineux.",
            ),
            ApiError::UnsupportedMediaType => problem(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported media type",
                "Le corps doit être envoyé en application/json.",
            ),
            ApiError::InvalidQuery(why) => with_errors(
                problem(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    "Invalid query",
                    "Les paramètres de la requête sont invalides.",
                ),
                vec![json!({ "field": "query", "code": "invalid_query", "detail": why })],
            ),
            ApiError::InvalidPath(why) => with_errors(
                problem(
                    StatusCode::BAD_REQUEST,
                    "invalid_path",
                    "Invalid path",
                    "Un identifiant du chemin est invalide.",
                ),
                vec![json!({ "field": "path", "code": "invalid_path", "detail": why })],
            ),
            ApiError::NotOwner { store, owner } => with_errors(
                problem(
                    StatusCode::MISDIRECTED_REQUEST,
                    "misdirected_request",
                    "Misdirected request",
                    format!("Le magasin {store} est servi par l'instance {owner}."),
                ),
                vec![json!({ "field": "store_id", "code": "not_owner", "owner": owner })],
            ),
            ApiError::ClusterUnauthenticated => problem(
                StatusCode::UNAUTHORIZED,
                "cluster_unauthenticated",
                "Cluster authentication required",
                "L'API interne ne répond qu'aux instances de la chaîne (MAGASIN_CLUSTER_SECRET).",
            ),
            ApiError::PeerUnavailable(why) => peer_unavailable(why),
            ApiError::ChainDiverged(why) => problem(
                StatusCode::CONFLICT,
                "chain_diverged",
                "Reference data diverged",
                format!("La copie du référentiel ne suit pas le journal du propriétaire : {why}."),
            ),
            ApiError::RouteNotFound => problem(
                StatusCode::NOT_FOUND,
                "not_found",
                "Not found",
                "Cette adresse n'existe pas dans l'API.",
            ),
            ApiError::StoreNotFound(id) => problem(
                StatusCode::NOT_FOUND,
                "store_not_found",
                "Store not found",
                format!("Le magasin {id} n'existe pas."),
            ),
            ApiError::ProductNotFound(sku) => problem(
                StatusCode::NOT_FOUND,
                "product_not_found",
                "Product not found",
                format!("Le produit {sku} n'existe pas au catalogue."),
            ),
            ApiError::WebhookNotFound(id) => problem(
                StatusCode::NOT_FOUND,
                "webhook_not_found",
                "Webhook not found",
                format!(
                    "Le webhook {id} n'existe pas (ou aucun envoi mis de côté ne porte cet identifiant)."
                ),
            ),
            ApiError::UnknownSkus(skus) => unknown_skus(skus.clone()),
            ApiError::Store(e) => store_problem(e),
            ApiError::Auth(e) => auth_problem(e),
            ApiError::Internal(cause) => internal(cause),
            ApiError::Chain(e) => chain_problem(e),
            ApiError::Figures(cause) => journal_unavailable(cause),
            ApiError::Registry(e) => match e {
                RegistryError::UnknownStore(id) => ApiError::StoreNotFound(*id).problem(),
                RegistryError::Journal(cause) => journal_unavailable(cause),
                RegistryError::Task(cause) => internal(cause),
            },
        }
    }
}

fn store_problem(error: &StoreError) -> Problem {
    match error {
        StoreError::Sale(SaleError::UnknownSkus(skus))
        | StoreError::Adjustment(AdjustmentError::UnknownSkus(skus)) => {
            unknown_skus(skus_json(skus))
        }
        StoreError::Sale(SaleError::InsufficientStock(short)) => with_errors(
            problem(
                StatusCode::CONFLICT,
                "insufficient_stock",
                "Insufficient stock",
                format!(
                    "Stock insuffisant pour {} ligne(s) ; rien n'a été vendu.",
                    short.len()
                ),
            ),
            to_values(short),
        ),
        StoreError::Sale(SaleError::Till(e))
        | StoreError::Return(ReturnError::Till(e))
        | StoreError::Till(e) => till_problem(e),
        StoreError::Sale(SaleError::Tender(e)) => tender_problem(e),
        StoreError::Sale(SaleError::ApprovalRequired { threshold_percent }) => problem(
            StatusCode::FORBIDDEN,
            "approval_required",
            "Manager approval required",
            format!(
                "Un rabais de plus de {threshold_percent} % ou un prix modifié demande l'approbation d'un gérant."
            ),
        ),
        StoreError::Return(ReturnError::SaleNotFound(id)) | StoreError::SaleNotFound(id) => {
            problem(
                StatusCode::NOT_FOUND,
                "sale_not_found",
                "Sale not found",
                format!("La vente {} n'existe pas dans ce magasin.", id.0),
            )
        }
        StoreError::Return(ReturnError::NotInSale(skus)) => with_errors(
            problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "line_not_in_sale",
                "Line not in sale",
                format!("{} produit(s) ne figurent pas sur cette vente.", skus.len()),
            ),
            skus_json(skus),
        ),
        StoreError::Return(ReturnError::ExceedsSale(lines)) => with_errors(
            problem(
                StatusCode::CONFLICT,
                "return_exceeds_sale",
                "Return exceeds sale",
                format!(
                    "Le retour dépasse la quantité vendue sur {} ligne(s) ; rien n'a été retourné.",
                    lines.len()
                ),
            ),
            to_values(lines),
        ),
        StoreError::Adjustment(AdjustmentError::OutOfBounds(lines)) => with_errors(
            problem(
                StatusCode::CONFLICT,
                "stock_out_of_bounds",
                "Stock out of bounds",
                format!(
                    "L'ajustement mènerait le stock sous zéro ou au-delà de la limite sur {} ligne(s).",
                    lines.len()
                ),
            ),
            to_values(lines),
        ),
        StoreError::Restock(RestockError::NotFound(id)) => problem(
            StatusCode::NOT_FOUND,
            "restock_not_found",
            "Restock request not found",
            format!("La demande de réapprovisionnement {id} n'existe pas."),
        ),
        StoreError::Restock(RestockError::InvalidTransition { id, from, to }) => problem(
            StatusCode::CONFLICT,
            "invalid_transition",
            "Invalid transition",
            format!(
                "La demande {id} est « {} » ; elle ne peut pas passer à « {} ».",
                status_fr(*from),
                status_fr(*to)
            ),
        ),
        StoreError::Restock(RestockError::NothingToRestock) => problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "nothing_to_restock",
            "Nothing to restock",
            "Aucun produit n'est sous son point de commande (ou tout est déjà en route).",
        ),
        StoreError::Restock(RestockError::UnknownSkus(skus)) => unknown_skus(skus_json(skus)),
        StoreError::Restock(RestockError::ReceiptMismatch(lines))
        | StoreError::Transfer(TransferError::ReceiptMismatch(lines)) => receipt_mismatch(lines),
        StoreError::Transfer(TransferError::NotFound(id)) => problem(
            StatusCode::NOT_FOUND,
            "transfer_not_found",
            "Transfer not found",
            format!("Le transfert {id} n'existe pas (ou ne concerne pas ce magasin)."),
        ),
        StoreError::Transfer(TransferError::InvalidTransition { id, from, to }) => problem(
            StatusCode::CONFLICT,
            "invalid_transition",
            "Invalid transition",
            format!(
                "Le transfert {id} est « {} » ; il ne peut pas passer à « {} ».",
                transfer_status_fr(*from),
                transfer_status_fr(*to)
            ),
        ),
        StoreError::Transfer(TransferError::SameStore) => problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "same_store",
            "Same store",
            "Un magasin ne peut pas se transférer du stock à lui-même.",
        ),
        StoreError::Transfer(TransferError::UnknownSkus(skus)) => unknown_skus(skus_json(skus)),
        StoreError::Transfer(TransferError::InsufficientStock(short)) => with_errors(
            problem(
                StatusCode::CONFLICT,
                "insufficient_stock",
                "Insufficient stock",
                format!(
                    "Stock insuffisant pour {} ligne(s) ; rien n'a été expédié.",
                    short.len()
                ),
            ),
            to_values(short),
        ),
        StoreError::CentralOverflow(sku) => problem(
            StatusCode::CONFLICT,
            "stock_out_of_bounds",
            "Stock out of bounds",
            format!("Le stock central de {sku} dépasserait la limite."),
        ),
        StoreError::KeyReused => problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "Idempotency key reused",
            "Cette clé Idempotency-Key a déjà servi pour une autre requête.",
        ),
        StoreError::InvalidLevels(sku) => problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_levels",
            "Invalid stock levels",
            format!("Le point de commande de {sku} dépasse son niveau cible."),
        ),
        StoreError::Unavailable | StoreError::StaleRead => {
            unavailable("Le magasin est occupé ou redémarre ; réessayez dans un instant.")
        }
        StoreError::Peer(why) => peer_unavailable(why),
        StoreError::Journal(cause) => journal_unavailable(cause),
    }
}

fn till_problem(error: &TillError) -> Problem {
    match error {
        TillError::UnknownTill(till) => problem(
            StatusCode::NOT_FOUND,
            "till_not_found",
            "Till not found",
            format!("La caisse {till} n'existe pas dans ce magasin."),
        ),
        TillError::AlreadyOpen { till, session } => problem(
            StatusCode::CONFLICT,
            "till_open",
            "Till already open",
            format!("La caisse {till} a déjà la session {session} ouverte."),
        ),
        TillError::Closed(till) => problem(
            StatusCode::CONFLICT,
            "till_closed",
            "Till closed",
            format!(
                "La caisse {till} n'a pas de session ouverte : ouvrez-la avec un fonds de caisse."
            ),
        ),
        TillError::ReceiptOutOfSequence { till, expected } => with_errors(
            problem(
                StatusCode::CONFLICT,
                "receipt_out_of_sequence",
                "Receipt out of sequence",
                format!(
                    "La caisse {till} attend le reçu n° {expected} : envoyez les ventes hors ligne dans l'ordre."
                ),
            ),
            vec![serde_json::json!({ "field": "receipt_number", "expected": expected })],
        ),
        TillError::UnknownSession { till, session } => with_errors(
            problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_session",
                "Unknown session",
                format!("La caisse {till} n'a jamais eu de session {session}."),
            ),
            vec![serde_json::json!({ "field": "session" })],
        ),
        TillError::ReasonRequired { over_short } => with_errors(
            problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "reason_required",
                "Reason required",
                format!(
                    "Le comptage diffère de l'attendu de {over_short} cents : donnez une raison."
                ),
            ),
            vec![serde_json::json!({ "field": "reason", "over_short_cents": over_short })],
        ),
    }
}

fn tender_problem(error: &TenderError) -> Problem {
    match error {
        TenderError::Short { due, short } => with_errors(
            problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "tenders_short",
                "Tenders short of the total",
                format!("Il manque {} cents pour payer {} cents.", short.0, due.0),
            ),
            vec![
                serde_json::json!({ "field": "tenders", "due_cents": due.0, "short_cents": short.0 }),
            ],
        ),
        TenderError::CardOver { over } => with_errors(
            problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "card_over_total",
                "Card over the total",
                format!(
                    "Les paiements par carte dépassent le total de {} cents.",
                    over.0
                ),
            ),
            vec![serde_json::json!({ "field": "tenders", "over_cents": over.0 })],
        ),
    }
}

fn chain_problem(error: &ChainActorError) -> Problem {
    match error {
        ChainActorError::Rule(ChainError::DuplicateSku(sku)) => problem(
            StatusCode::CONFLICT,
            "sku_taken",
            "SKU taken",
            format!("Le SKU {sku} existe déjà au catalogue."),
        ),
        ChainActorError::Rule(ChainError::DuplicateBarcode(ean)) => problem(
            StatusCode::CONFLICT,
            "barcode_taken",
            "Barcode taken",
            format!("Le code-barres {ean} est déjà attribué."),
        ),
        ChainActorError::Rule(ChainError::DuplicateStoreCode(code)) => problem(
            StatusCode::CONFLICT,
            "store_code_taken",
            "Store code taken",
            format!("Le code de magasin {code} est déjà utilisé."),
        ),
        ChainActorError::Rule(ChainError::DuplicateUsername(name)) => problem(
            StatusCode::CONFLICT,
            "username_taken",
            "Username taken",
            format!("Le nom d'utilisateur {name} existe déjà."),
        ),
        ChainActorError::Rule(ChainError::UnknownUser(name)) => problem(
            StatusCode::NOT_FOUND,
            "user_not_found",
            "User not found",
            format!("L'utilisateur {name} n'existe pas."),
        ),
        ChainActorError::Rule(ChainError::UnknownStore(id)) => {
            ApiError::StoreNotFound(*id).problem()
        }
        ChainActorError::Rule(ChainError::UnknownProduct(sku)) => {
            ApiError::ProductNotFound(sku.to_string()).problem()
        }
        ChainActorError::Rule(ChainError::LastAdministrator(name)) => problem(
            StatusCode::CONFLICT,
            "last_administrator",
            "Last administrator",
            format!(
                "{name} est le dernier administrateur actif : la chaîne ne peut pas s'en passer."
            ),
        ),
        ChainActorError::Rule(ChainError::UnknownJurisdiction(code)) => with_errors(
            problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_jurisdiction",
                "Unknown jurisdiction",
                format!("La juridiction fiscale {code} n'est pas définie."),
            ),
            vec![serde_json::json!({ "field": "jurisdiction" })],
        ),
        ChainActorError::Unavailable | ChainActorError::Gap { .. } => {
            unavailable("Le catalogue est occupé ; réessayez dans un instant.")
        }
        ChainActorError::NotOwner(owner) => problem(
            StatusCode::MISDIRECTED_REQUEST,
            "misdirected_request",
            "Misdirected request",
            format!("Le référentiel de la chaîne est écrit par l'instance {owner}."),
        ),
        ChainActorError::Journal(cause) => journal_unavailable(cause),
        ChainActorError::Purchase(e) => purchase_problem(e),
    }
}

fn purchase_problem(error: &PurchaseError) -> Problem {
    use PurchaseError::*;
    match error {
        UnknownSupplier(code) => with_errors(
            problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_supplier",
                "Unknown supplier",
                format!("Le fournisseur {code} n'existe pas."),
            ),
            vec![serde_json::json!({ "field": "supplier" })],
        ),
        InactiveSupplier(code) => problem(
            StatusCode::CONFLICT,
            "supplier_inactive",
            "Supplier inactive",
            format!("Le fournisseur {code} est inactif : il ne prend plus de commande."),
        ),
        UnknownOrder(id) => problem(
            StatusCode::NOT_FOUND,
            "purchase_order_not_found",
            "Purchase order not found",
            format!("La commande fournisseur {id} n'existe pas."),
        ),
        OrderClosed(id) => problem(
            StatusCode::CONFLICT,
            "purchase_order_closed",
            "Purchase order closed",
            format!("La commande fournisseur {id} est close ou entièrement reçue."),
        ),
        Lines => problem(
            StatusCode::BAD_REQUEST,
            "invalid_order_lines",
            "Invalid order lines",
            "Une commande a de 1 à 200 lignes, chaque SKU une seule fois.",
        ),
        NotOnOrder { order, sku } => with_errors(
            problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "not_on_order",
                "Not on the order",
                format!("La commande fournisseur {order} n'a pas de ligne {sku}."),
            ),
            vec![serde_json::json!({ "sku": sku.as_str() })],
        ),
        KeyReused => problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "Idempotency key reused",
            "Cette clé d'idempotence a déjà servi à une autre demande ; rien n'a été enregistré.",
        ),
        TooManyReceipts(id) => problem(
            StatusCode::CONFLICT,
            "too_many_receipts",
            "Too many receipts",
            format!(
                "La commande fournisseur {id} a atteint 500 réceptions : fermez-la et passez-en une autre."
            ),
        ),
        TooManyUnits { order, sku } => with_errors(
            problem(
                StatusCode::CONFLICT,
                "stock_out_of_bounds",
                "Stock out of bounds",
                format!(
                    "La ligne {sku} de la commande {order} dépasserait ce que le centre peut tenir."
                ),
            ),
            vec![serde_json::json!({ "sku": sku.as_str() })],
        ),
        EmptyReceipt => problem(
            StatusCode::BAD_REQUEST,
            "empty_receipt",
            "Empty receipt",
            "Une réception apporte au moins une unité ou en déclare une manquante.",
        ),
        UnknownReceipt { order, receipt } => problem(
            StatusCode::NOT_FOUND,
            "receipt_not_found",
            "Receipt not found",
            format!("La commande fournisseur {order} n'a pas de réception {receipt}."),
        ),
        NothingOver { order, receipt } => problem(
            StatusCode::CONFLICT,
            "nothing_over_order",
            "Nothing beyond the order",
            format!(
                "La réception {receipt} de la commande {order} n'a rien au-delà de la commande."
            ),
        ),
        AlreadyDecided {
            order,
            receipt,
            approved,
        } => problem(
            StatusCode::CONFLICT,
            "already_decided",
            "Already decided",
            format!(
                "L'excédent de la réception {receipt} de la commande {order} est déjà {}.",
                if *approved { "accepté" } else { "refusé" }
            ),
        ),
    }
}

fn transfer_status_fr(status: TransferStatus) -> &'static str {
    match status {
        TransferStatus::Requested => "demandé",
        TransferStatus::Shipped => "expédié",
        TransferStatus::Received => "reçu",
    }
}

fn status_fr(status: RestockStatus) -> &'static str {
    match status {
        RestockStatus::Requested => "demandée",
        RestockStatus::Allocated => "allouée",
        RestockStatus::Shipped => "expédiée",
        RestockStatus::Received => "reçue",
        RestockStatus::Rejected => "refusée",
        RestockStatus::Cancelled => "annulée",
    }
}

fn auth_problem(error: &AuthError) -> Problem {
    match error {
        AuthError::MissingToken => problem(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Authentication required",
            "Connectez-vous : cette opération demande un jeton (Authorization: Bearer).",
        ),
        AuthError::InvalidToken(_) | AuthError::InactiveUser => problem(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "Invalid token",
            "Votre session n'est plus valide ; reconnectez-vous.",
        ),
        AuthError::InvalidCredentials => problem(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "Invalid credentials",
            "Nom d'utilisateur ou mot de passe incorrect.",
        ),
        AuthError::TooManyAttempts(wait) => {
            let minutes = wait.as_secs().div_ceil(60).max(1);
            let mut p = problem(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "Too many attempts",
                format!("Trop de tentatives de connexion ; réessayez dans {minutes} minute(s)."),
            );
            p.retry_after = Some(wait.as_secs().max(1));
            p
        }
        AuthError::PasswordChangeRequired => problem(
            StatusCode::FORBIDDEN,
            "password_change_required",
            "Password change required",
            "Votre mot de passe a été réinitialisé : choisissez-en un nouveau \
             (POST /api/v1/auth/password).",
        ),
        AuthError::Forbidden => problem(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Forbidden",
            "Votre rôle ne permet pas cette opération.",
        ),
        AuthError::ForbiddenStore => problem(
            StatusCode::FORBIDDEN,
            "forbidden_store",
            "Forbidden store",
            "Vous n'avez pas accès à ce magasin.",
        ),
        AuthError::Hashing(cause) => internal(cause),
        AuthError::MissingSecret | AuthError::WeakSecret(_) | AuthError::BadSealKey => {
            internal(error)
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.problem().status
    }

    fn error_response(&self) -> HttpResponse {
        let mut p = self.problem();
        let request_id = crate::request_id::current();
        if let Some(cause) = &p.cause {
            let reference = request_id
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            tracing::error!(request_id = %reference, error = %cause, "internal error");
            p.detail = format!("erreur interne (requête {reference})");
        }
        let body = ProblemJson {
            kind: format!("urn:magasin:problem:{}", p.code),
            title: p.title,
            status: p.status.as_u16(),
            detail: p.detail,
            code: p.code,
            errors: p.errors,
            instance: request_id.map(|id| format!("urn:magasin:request:{id}")),
        };
        let mut response = HttpResponse::build(p.status);
        response.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        if let Some(seconds) = p.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        match p.code {
            "unauthenticated" => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"magasin\""));
            }
            "invalid_token" => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    "Bearer realm=\"magasin\", error=\"invalid_token\"",
                ));
            }
            _ => {}
        }
        response.body(serde_json::to_string(&body).unwrap_or_default())
    }
}
