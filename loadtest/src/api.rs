//! A plain HTTP client of the magasin API for what happens outside the load: logging in,
//! preparing the chain before a run, and reading stock, ledgers and sales for the check.
//!
//! Nothing here is measured. Every answer the server sends is parsed into the few fields
//! the tool reads, and every unexpected status becomes an error naming the call, but 429:
//! behind HAProxy's limits the tool waits as `Retry-After` says and asks again, as a
//! well-behaved client does.

use anyhow::{Context, Result, bail};
use reqwest::{Client, Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::time::Duration;

use crate::connection::Connection;

/// The largest page the listing routes give (`per_page` 1 to 200).
pub const MAX_PER_PAGE: u32 = 200;
/// The largest ledger page (`limit` 1 to 1000).
const LEDGER_LIMIT: u32 = 1000;
/// How many times one call waits out a 429 before it fails.
const RATE_LIMITED_TRIES: u32 = 10;
/// The most lines one adjustment or supplier receipt may carry.
pub const MAX_LINES: usize = 200;

#[derive(Clone)]
pub struct Api {
    client: Client,
    host: String,
}

#[derive(Debug, Deserialize)]
struct LoginAnswer {
    token: String,
}

#[derive(Debug, Deserialize)]
struct Page<T> {
    items: Vec<T>,
    total: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Product {
    pub sku: String,
    pub ean13: String,
    pub name: String,
    pub category: String,
}

#[derive(Debug, Deserialize)]
pub struct Store {
    pub id: u32,
}

#[derive(Debug, Deserialize)]
pub struct StockLine {
    pub sku: String,
    pub on_hand: u32,
}

#[derive(Debug, Deserialize)]
pub struct CentralLine {
    pub sku: String,
    pub on_hand: u32,
}

#[derive(Debug, Deserialize)]
pub struct SaleSummary {
    pub id: u64,
}

/// One entry of a store's ledger, with only what the check reads.
#[derive(Debug, Clone, Deserialize)]
pub struct LedgerEntry {
    pub seq: u64,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub sale_id: Option<u64>,
    #[serde(default)]
    pub movements: Vec<Movement>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Movement {
    pub sku: String,
    pub change: i64,
    pub on_hand_after: u32,
}

#[derive(Debug, Deserialize)]
struct LedgerPage {
    items: Vec<LedgerEntry>,
    next_after: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct UserList {
    items: Vec<UserRecord>,
}

#[derive(Debug, Deserialize)]
struct UserRecord {
    username: String,
}

impl Api {
    pub fn new(host: &str, connection: &Connection) -> Result<Self> {
        let client = connection
            .builder()
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            client,
            host: host.trim_end_matches('/').to_owned(),
        })
    }

    /// Sends one request and parses a successful answer; any other status is an error
    /// that quotes the body (problem+json says what went wrong).
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<T> {
        let url = format!("{}{path}", self.host);
        let mut tries = 0;
        let response = loop {
            let mut request = self.client.request(method.clone(), &url);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request
                .send()
                .await
                .with_context(|| format!("{method} {path}: no answer"))?;
            tries += 1;
            if response.status() != StatusCode::TOO_MANY_REQUESTS || tries >= RATE_LIMITED_TRIES {
                break response;
            }
            let wait = response
                .headers()
                .get("Retry-After")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(1);
            tokio::time::sleep(Duration::from_secs(wait.clamp(1, 120))).await;
        };
        let status = response.status();
        let text = response
            .text()
            .await
            .with_context(|| format!("{method} {path}: reading the answer"))?;
        if !status.is_success() {
            bail!("{method} {path}: {status}: {text}");
        }
        serde_json::from_str(&text).with_context(|| format!("{method} {path}: unexpected answer"))
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, token: &str) -> Result<T> {
        self.call(Method::GET, path, Some(token), None).await
    }

    async fn post<T: DeserializeOwned>(&self, path: &str, token: &str, body: &Value) -> Result<T> {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    /// Polls `/health/ready` until it answers 200, for at most `wait`.
    pub async fn wait_ready(&self, wait: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let answer = self
                .client
                .get(format!("{}/health/ready", self.host))
                .send()
                .await;
            match answer {
                Ok(r) if r.status() == StatusCode::OK => return Ok(()),
                _ if tokio::time::Instant::now() >= deadline => {
                    bail!("{} is not ready after {wait:?}", self.host)
                }
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    pub async fn login(&self, username: &str, password: &str) -> Result<String> {
        let body = json!({"username": username, "password": password});
        let answer: LoginAnswer = self
            .call(Method::POST, "/api/v1/auth/login", None, Some(&body))
            .await
            .with_context(|| format!("logging in as {username}"))?;
        Ok(answer.token)
    }

    /// Every page of a `Page<T>` listing (`path` may already carry a query).
    async fn all_pages<T: DeserializeOwned>(&self, path: &str, token: &str) -> Result<Vec<T>> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        for page in 1.. {
            let answer: Page<T> = self
                .get(
                    &format!("{path}{sep}page={page}&per_page={MAX_PER_PAGE}"),
                    token,
                )
                .await?;
            let done = answer.items.len() < MAX_PER_PAGE as usize;
            items.extend(answer.items);
            if done || items.len() >= answer.total {
                break;
            }
        }
        Ok(items)
    }

    pub async fn stores(&self, token: &str) -> Result<Vec<Store>> {
        #[derive(Deserialize)]
        struct Stores {
            items: Vec<Store>,
        }
        let answer: Stores = self.get("/api/v1/stores", token).await?;
        Ok(answer.items)
    }

    pub async fn catalog(&self, token: &str) -> Result<Vec<Product>> {
        self.all_pages("/api/v1/products", token).await
    }

    pub async fn store_stock(&self, store: u32, token: &str) -> Result<Vec<StockLine>> {
        self.all_pages(&format!("/api/v1/stores/{store}/stock"), token)
            .await
    }

    pub async fn central_stock(&self, token: &str) -> Result<Vec<CentralLine>> {
        self.all_pages("/api/v1/logistics/stock", token).await
    }

    /// How many sales the store has recorded, ever.
    pub async fn sales_total(&self, store: u32, token: &str) -> Result<usize> {
        let page: Page<SaleSummary> = self
            .get(&format!("/api/v1/stores/{store}/sales?per_page=1"), token)
            .await?;
        Ok(page.total)
    }

    /// The ids of the store's `newest` most recent sales.
    pub async fn newest_sales(&self, store: u32, newest: usize, token: &str) -> Result<Vec<u64>> {
        let mut ids = Vec::with_capacity(newest);
        let mut page = 1;
        while ids.len() < newest {
            let answer: Page<SaleSummary> = self
                .get(
                    &format!("/api/v1/stores/{store}/sales?page={page}&per_page={MAX_PER_PAGE}"),
                    token,
                )
                .await?;
            if answer.items.is_empty() {
                break;
            }
            ids.extend(answer.items.into_iter().map(|s| s.id));
            page += 1;
        }
        ids.truncate(newest);
        Ok(ids)
    }

    /// The store's ledger entries after position `after`, to its current end.
    pub async fn ledger_after(
        &self,
        store: u32,
        after: u64,
        token: &str,
    ) -> Result<Vec<LedgerEntry>> {
        let mut entries = Vec::new();
        let mut from = after;
        loop {
            let page: LedgerPage = self
                .get(
                    &format!("/api/v1/stores/{store}/ledger?after={from}&limit={LEDGER_LIMIT}"),
                    token,
                )
                .await?;
            entries.extend(page.items);
            match page.next_after {
                Some(next) => from = next,
                None => return Ok(entries),
            }
        }
    }

    pub async fn usernames(&self, token: &str) -> Result<Vec<String>> {
        let list: UserList = self.get("/api/v1/users", token).await?;
        Ok(list.items.into_iter().map(|u| u.username).collect())
    }

    pub async fn create_user(
        &self,
        token: &str,
        username: &str,
        password: &str,
        role: &str,
        store: u32,
    ) -> Result<()> {
        let body = json!({
            "username": username,
            "password": password,
            "role": role,
            "store_id": store,
        });
        let _: Value = self.post("/api/v1/users", token, &body).await?;
        Ok(())
    }

    /// Sets each listed SKU's on-hand to its count (a physical count), in as many
    /// adjustments as the line limit needs.
    pub async fn count_stock(
        &self,
        store: u32,
        counts: &[(String, u32)],
        token: &str,
    ) -> Result<()> {
        for chunk in counts.chunks(MAX_LINES) {
            let lines: Vec<Value> = chunk
                .iter()
                .map(|(sku, counted)| json!({"sku": sku, "counted": counted}))
                .collect();
            let body = json!({"reason": "préparation de l'essai de charge", "lines": lines});
            let _: Value = self
                .post(&format!("/api/v1/stores/{store}/adjustments"), token, &body)
                .await?;
        }
        Ok(())
    }

    /// Sends a write again, with its idempotency key if it had one: the status and body
    /// of whatever the server answers, success or not.
    pub async fn resend(
        &self,
        path: &str,
        token: &str,
        key: Option<&str>,
        body: &Value,
    ) -> Result<(StatusCode, Value)> {
        let mut request = self
            .client
            .post(format!("{}{path}", self.host))
            .bearer_auth(token)
            .json(body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("POST {path}: no answer"))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .with_context(|| format!("POST {path}: reading the answer"))?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, body))
    }

    /// Receives goods from a supplier into the logistics center.
    pub async fn supplier_receipt(&self, lines: &[(String, u32)], token: &str) -> Result<()> {
        for chunk in lines.chunks(MAX_LINES) {
            let lines: Vec<Value> = chunk
                .iter()
                .map(|(sku, quantity)| json!({"sku": sku, "quantity": quantity}))
                .collect();
            let _: Value = self
                .post(
                    "/api/v1/logistics/receipts",
                    token,
                    &json!({"lines": lines}),
                )
                .await?;
        }
        Ok(())
    }
}
