//! The goose scenarios: what each kind of simulated user does, one weighted transaction
//! per kind of action, every request named after its operation so goose aggregates per
//! operation (`sale`, `search_products`, …) rather than per URL.
//!
//! Each user logs in once, at its start, and keeps its token in its session data. No
//! user waits between transactions unless asked (`--wait-ms`): a pass measures what the
//! server sustains, not a day's pace. Before anything else a user takes its own client
//! when the run asks for one (HTTPS with a given CA, its own source address).

mod ceiling;
mod logistics;
mod office;
mod search;
mod till;

use anyhow::{Result, bail};
use goose::metrics::GooseRequestMetric;
use goose::prelude::*;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::connection::Connection;
use crate::world::{Credentials, World};

/// The scenarios a run may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Till,
    Search,
    Logistics,
    Office,
    /// A chain's day: search 50, till 35, office 10, logistics 5 (shares of the users).
    Mixed,
    /// `GET /health/live` only: what the server and this machine sustain at best.
    Ceiling,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Till => "till",
            Kind::Search => "search",
            Kind::Logistics => "logistics",
            Kind::Office => "office",
            Kind::Mixed => "mixed",
            Kind::Ceiling => "ceiling",
        }
    }

    /// Whether the scenario needs the chain prepared (users, stock, catalog).
    pub fn needs_world(self) -> bool {
        self != Kind::Ceiling
    }
}

/// Users of the mixed pass per kind, out of 100: most of a chain's traffic is customers
/// and staff looking things up and tills selling; head office and restocking are few.
pub const MIXED_WEIGHTS: [(Kind, usize); 4] = [
    (Kind::Search, 50),
    (Kind::Till, 35),
    (Kind::Office, 10),
    (Kind::Logistics, 5),
];

/// The goose scenarios of `kind`, each user on a client of `connection`, waiting `wait`
/// (between half and one and a half times) between transactions. `world` is `None` only
/// for the ceiling, which never waits.
pub fn build(
    kind: Kind,
    world: Option<&Arc<World>>,
    connection: &Connection,
    wait: Duration,
) -> Result<Vec<Scenario>> {
    let scenarios = scenarios_of(kind, world)?;
    scenarios
        .into_iter()
        .map(|mut scenario| {
            if connection.customized() {
                scenario = scenario.register_transaction(connect(connection));
            }
            if kind != Kind::Ceiling && !wait.is_zero() {
                scenario = scenario.set_wait_time(wait / 2, wait + wait / 2)?;
            }
            Ok(scenario)
        })
        .collect()
}

/// The first thing a user does: takes its own client (see `Connection::user_builder`).
fn connect(connection: &Connection) -> Transaction {
    let connection = Arc::new(connection.clone());
    let function: TransactionFunction = Arc::new(move |user| {
        let builder = connection.user_builder(user.weighted_users_index);
        Box::pin(async move {
            user.set_client_builder(builder).await?;
            Ok(())
        })
    });
    Transaction::new(function)
        .set_name("connect")
        .set_on_start()
        .set_sequence(1)
}

fn scenarios_of(kind: Kind, world: Option<&Arc<World>>) -> Result<Vec<Scenario>> {
    if kind == Kind::Ceiling {
        return Ok(vec![ceiling::scenario()?]);
    }
    let Some(world) = world else {
        bail!("the {} scenario needs the chain prepared", kind.name());
    };
    let one = |kind: Kind| -> Result<Scenario> {
        match kind {
            Kind::Till => till::scenario(world),
            Kind::Search => search::scenario(world),
            Kind::Logistics => logistics::scenario(world),
            Kind::Office => office::scenario(world),
            Kind::Mixed | Kind::Ceiling => bail!("{} is not a single scenario", kind.name()),
        }
    };
    if kind == Kind::Mixed {
        MIXED_WEIGHTS
            .iter()
            .map(|&(kind, weight)| Ok(one(kind)?.set_weight(weight)?))
            .collect()
    } else {
        Ok(vec![one(kind)?])
    }
}

pub type StepFuture<'r> = Pin<Box<dyn Future<Output = TransactionResult> + Send + 'r>>;
pub type StepFn = for<'r> fn(&'r World, &'r mut GooseUser) -> StepFuture<'r>;

/// A named, weighted transaction running `run` with the shared world.
pub fn step(world: &Arc<World>, name: &str, weight: usize, run: StepFn) -> Result<Transaction> {
    let world = Arc::clone(world);
    let function: TransactionFunction = Arc::new(move |user| {
        let world = Arc::clone(&world);
        Box::pin(async move { run(&world, user).await })
    });
    Ok(Transaction::new(function)
        .set_name(name)
        .set_weight(weight)?)
}

/// One request of a transaction.
pub struct Call<'a> {
    /// The operation, which names the request in every metric.
    pub name: &'a str,
    pub method: GooseMethod,
    pub path: &'a str,
    pub query: &'a [(&'a str, &'a str)],
    pub token: Option<&'a str>,
    pub key: Option<&'a str>,
    pub body: Option<&'a Value>,
}

impl<'a> Call<'a> {
    pub fn get(name: &'a str, path: &'a str, token: &'a str) -> Self {
        Self {
            name,
            method: GooseMethod::Get,
            path,
            query: &[],
            token: Some(token),
            key: None,
            body: None,
        }
    }

    pub fn post(name: &'a str, path: &'a str, token: &'a str, body: &'a Value) -> Self {
        Self {
            method: GooseMethod::Post,
            body: Some(body),
            ..Self::get(name, path, token)
        }
    }

    pub fn query(self, query: &'a [(&'a str, &'a str)]) -> Self {
        Self { query, ..self }
    }

    pub fn key(self, key: &'a str) -> Self {
        Self {
            key: Some(key),
            ..self
        }
    }
}

/// What came back: the request's metric (to mark it failed when the body is wrong), the
/// status if any answer came, and the body.
pub struct Answer {
    pub request: GooseRequestMetric,
    pub status: Option<u16>,
    /// `Idempotent-Replayed: true`: the server answered from a key it had seen.
    pub replayed: bool,
    pub body: String,
}

impl Answer {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// No answer, or a server error: a write may or may not have happened.
    pub fn uncertain(&self) -> bool {
        self.status.is_none_or(|s| s >= 500)
    }
}

pub async fn send(user: &mut GooseUser, call: Call<'_>) -> Result<Answer, Box<TransactionError>> {
    let mut builder = user.get_request_builder(&call.method, call.path)?;
    if let Some(token) = call.token {
        builder = builder.bearer_auth(token);
    }
    if let Some(key) = call.key {
        builder = builder.header("Idempotency-Key", key);
    }
    if !call.query.is_empty() {
        builder = builder.query(call.query);
    }
    if let Some(body) = call.body {
        builder = builder.json(body);
    }
    let request = GooseRequest::builder()
        .method(call.method)
        .path(call.path)
        .name(call.name)
        .set_request_builder(builder)
        .build();
    let goose = user.request(request).await?;
    let mut request = goose.request;
    let (status, replayed, body) = match goose.response {
        Ok(response) => {
            let status = response.status().as_u16();
            let replayed = response
                .headers()
                .get("Idempotent-Replayed")
                .is_some_and(|v| v == "true");
            match response.text().await {
                Ok(body) => (Some(status), replayed, body),
                Err(e) => {
                    return Err(fail(
                        user,
                        &format!("answer cut short: {e}"),
                        &mut request,
                        None,
                    ));
                }
            }
        }
        Err(_) => (None, false, String::new()),
    };
    Ok(Answer {
        request,
        status,
        replayed,
        body,
    })
}

/// Marks the request failed (goose counts it as an error of its operation) and returns
/// the error that ends the transaction.
pub fn fail(
    user: &mut GooseUser,
    why: &str,
    request: &mut GooseRequestMetric,
    body: Option<&str>,
) -> Box<TransactionError> {
    match user.set_failure(why, request, None, body) {
        Err(e) => e,
        Ok(()) => Box::new(TransactionError::Custom(why.to_owned())),
    }
}

/// Ends the transaction unless the request succeeded (goose already counted a failed
/// status as an error).
pub fn require_success(answer: &Answer) -> TransactionResult {
    if answer.succeeded() {
        Ok(())
    } else {
        Err(Box::new(TransactionError::RequestFailed {
            raw_request: Box::new(answer.request.clone()),
        }))
    }
}

/// The body of a successful answer as `T`; a body that does not parse is a failure of
/// the request.
pub fn parse<T: DeserializeOwned>(
    user: &mut GooseUser,
    answer: &mut Answer,
) -> Result<T, Box<TransactionError>> {
    require_success(answer)?;
    serde_json::from_str(&answer.body).map_err(|e| {
        let why = format!("unexpected answer: {e}");
        let body = answer.body.clone();
        fail(user, &why, &mut answer.request, Some(&body))
    })
}

/// Logs in (a measured request, `login`) and returns the bearer token.
pub async fn login(
    user: &mut GooseUser,
    who: &Credentials,
) -> Result<Arc<str>, Box<TransactionError>> {
    #[derive(Deserialize)]
    struct LoginAnswer {
        token: String,
    }
    let body = json!({"username": who.username, "password": who.password});
    let mut call = Call::post("login", "/api/v1/auth/login", "", &body);
    call.token = None;
    let mut answer = send(user, call).await?;
    let login: LoginAnswer = parse(user, &mut answer)?;
    Ok(login.token.into())
}

/// The session data of a user whose on-start transaction did not run or failed.
pub fn not_logged_in() -> Box<TransactionError> {
    Box::new(TransactionError::Custom(
        "this user is not logged in".into(),
    ))
}
