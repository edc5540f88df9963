//! Webhooks (ADR 0029): every committed event an endpoint asked for is pushed to it, at
//! least once, in order per stream (a store's events in the store's order), signed.
//!
//! The journal is the outbox. Each instance delivers the events of the streams it owns
//! (its stores, its products of the central stock, and the chain's when it owns the
//! reference data), reading them from its journal after each endpoint's cursor
//! ([`outbox::Outbox`]). A failed delivery holds its stream back and is retried with
//! exponential backoff and jitter; after `retry_for` it is set aside (listed, sent again by
//! hand) and the stream goes on. A restart, a kill -9 included, resumes from the cursors.
//!
//! A delivery is a POST of JSON `{"id", "type", "stream", "seq", "store_id"?, "data"}` with
//! `X-Magasin-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">` (the endpoint's
//! secret), `X-Magasin-Event-Id` (the same on a redelivery), `X-Magasin-Event-Type`,
//! `X-Magasin-Stream` and `X-Magasin-Sequence` (a receiver sees a gap).

pub mod outbox;
mod target;

use dashmap::DashMap;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

use crate::domain::{CentralEvent, ChainEvent, DomainEvent, StoreEvent, Webhook};
use crate::persistence::{CommitListener, CommitStats, Committed, Journal, JournalError, StreamId};
use crate::reports::{WebhookDirectory, describe};
use outbox::{Attempt, Outbox, Pending};
pub use target::{TargetError, check_target};

/// `[webhooks]` of the configuration.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Plain `http` and loopback or private addresses as targets (tests, receivers on the
    /// store's own network). Off: only `https` to public addresses.
    pub allow_private_targets: bool,
    /// How long a receiver has to answer one delivery.
    pub timeout_ms: u64,
    /// The first retry's delay; each next one doubles, with jitter, up to `max_retry_ms`.
    pub first_retry_ms: u64,
    pub max_retry_ms: u64,
    /// How long an event is retried before it is set aside.
    pub retry_for_hours: u64,
}

impl WebhookSettings {
    fn retry_for_ms(&self) -> i64 {
        i64::try_from(self.retry_for_hours.saturating_mul(3_600_000)).unwrap_or(i64::MAX)
    }

    /// The delay before attempt `attempts + 1`: doubled each time, capped, then between
    /// half and all of it (full jitter would let a burst of retries land together again).
    fn backoff_ms(&self, attempts: u32) -> i64 {
        let doubled = self
            .first_retry_ms
            .saturating_mul(1_u64 << attempts.saturating_sub(1).min(30))
            .min(self.max_retry_ms.max(1));
        let jittered = doubled / 2 + rand::random_range(0..=doubled / 2);
        i64::try_from(jittered).unwrap_or(i64::MAX)
    }
}

/// Which streams this instance delivers: those it owns.
pub type Owns = Arc<dyn Fn(&StreamId) -> bool + Send + Sync>;

/// Follows commits: the last sequence of every stream, the positions where each endpoint
/// registered meanwhile begins, and a wake-up for the deliverer.
#[derive(Default)]
pub struct WebhookFeed {
    latest: DashMap<StreamId, u64>,
    starts: DashMap<u32, Vec<(StreamId, u64)>>,
    wake: Notify,
}

impl CommitListener for WebhookFeed {
    fn committed(&self, events: &[Committed], _stats: &CommitStats) {
        for committed in events {
            if let DomainEvent::Chain(ChainEvent::WebhookRegistered(w)) = &committed.event {
                let at = self
                    .latest
                    .iter()
                    .map(|e| (e.key().clone(), *e.value()))
                    .collect();
                self.starts.insert(w.id, at);
            }
            self.latest
                .entry(committed.stream.clone())
                .and_modify(|seq| *seq = (*seq).max(committed.seq))
                .or_insert(committed.seq);
        }
        if !events.is_empty() {
            self.wake.notify_one();
        }
    }
}

/// Sends the events; one per instance.
pub struct Deliverer {
    pub outbox: Arc<Outbox>,
    feed: Arc<WebhookFeed>,
    journal: Journal,
    directory: Arc<WebhookDirectory>,
    owns: Owns,
    settings: WebhookSettings,
    http: reqwest::Client,
    /// The outbox's cursors, read once: every round looks at every stream.
    cursors: DashMap<(u32, StreamId), u64>,
}

/// Events read from a stream at a time.
const PAGE: usize = 200;
/// How often the deliverer looks for due retries when no commit wakes it.
const TICK: Duration = Duration::from_millis(250);

fn now_ms() -> i64 {
    crate::actors::now().0
}

impl Deliverer {
    pub fn new(
        outbox: Arc<Outbox>,
        feed: Arc<WebhookFeed>,
        journal: Journal,
        directory: Arc<WebhookDirectory>,
        owns: Owns,
        settings: WebhookSettings,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(settings.timeout_ms.max(1)))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            outbox,
            feed,
            journal,
            directory,
            owns,
            settings,
            http,
            cursors: DashMap::new(),
        })
    }

    /// Runs until the process ends.
    pub async fn run(self: Arc<Self>) {
        match self.journal.last_seqs() {
            Ok(seqs) => {
                for (stream, seq) in seqs {
                    self.feed.latest.insert(stream, seq);
                }
            }
            Err(e) => tracing::error!(error = %e, "webhooks: cannot read the journal's positions"),
        }
        loop {
            if let Err(e) = self.round().await {
                tracing::error!(error = %e, "webhooks: delivery round failed");
            }
            let _ = tokio::time::timeout(TICK, self.feed.wake.notified()).await;
        }
    }

    /// One pass: every endpoint, every stream of ours with news, and the resends.
    async fn round(&self) -> Result<(), JournalError> {
        let hooks = self.directory.all();
        let streams: Vec<(StreamId, u64)> = self
            .feed
            .latest
            .iter()
            .filter(|e| (self.owns)(e.key()))
            .map(|e| (e.key().clone(), *e.value()))
            .collect();
        let mut work = Vec::new();
        for hook in &hooks {
            self.start(hook, &streams)?;
            for (stream, latest) in &streams {
                if self.cursor(hook.id, stream)? < *latest {
                    work.push(self.catch_up(hook, stream));
                }
            }
        }
        // Streams are independent: several at once, each in its own order.
        for result in futures_util::future::join_all(work).await {
            result?;
        }
        for pending in self.outbox.resends()? {
            if let Some(hook) = hooks.iter().find(|h| h.id == pending.webhook) {
                self.resend(hook, pending).await?;
            }
        }
        Ok(())
    }

    /// The first time this instance sees an endpoint: it begins where the journal stood
    /// when its registration was committed (or now, if that is not known).
    fn start(&self, hook: &Webhook, streams: &[(StreamId, u64)]) -> Result<(), JournalError> {
        if self.outbox.started(hook.id)? {
            return Ok(());
        }
        let at = match self.feed.starts.get(&hook.id) {
            Some(starts) => starts.clone(),
            None => streams.to_vec(),
        };
        self.outbox.start(hook.id, &at)
    }

    /// Delivers `stream`'s events after the endpoint's cursor, in order, until one fails.
    async fn catch_up(&self, hook: &Webhook, stream: &StreamId) -> Result<(), JournalError> {
        let now = now_ms();
        if let Some(retrying) = self.outbox.retrying(hook.id, stream)? {
            if retrying.next_try_at > now {
                return Ok(());
            }
            let Some(event) = self.event(stream, retrying.seq)? else {
                return Ok(());
            };
            if !self.retry(hook, retrying, &event).await? {
                return Ok(());
            }
        }
        let after = self.cursor(hook.id, stream)?;
        for (seq, event) in self.events(stream, after)? {
            let (kind, body) = payload(stream, seq, &event);
            if hook.wants(kind) {
                let pending = Pending {
                    webhook: hook.id,
                    stream: stream.clone(),
                    seq,
                    event_id: body["id"].as_str().unwrap_or_default().to_owned(),
                    kind: kind.to_owned(),
                    first_try_at: now,
                    attempts: 0,
                    next_try_at: now,
                    set_aside: false,
                };
                if !self.retry(hook, pending, &event).await? {
                    return Ok(());
                }
            } else {
                self.advance(hook.id, stream, seq)?;
            }
        }
        Ok(())
    }

    /// One attempt of `pending`; true when the stream may go on (delivered or set aside).
    async fn retry(
        &self,
        hook: &Webhook,
        mut pending: Pending,
        event: &DomainEvent,
    ) -> Result<bool, JournalError> {
        let (_, body) = payload(&pending.stream, pending.seq, event);
        let answer = self.send(hook, &pending, &body).await;
        pending.attempts += 1;
        let now = now_ms();
        let delivered = answer.status.is_some_and(|s| (200..300).contains(&s));
        let expired = now.saturating_sub(pending.first_try_at) >= self.settings.retry_for_ms();
        let outcome = match (delivered, expired) {
            (true, _) => "delivered",
            (false, true) => "set_aside",
            (false, false) => "failed",
        };
        self.record(&pending, now, answer, outcome)?;
        if delivered {
            self.outbox.forget(&pending)?;
        } else {
            pending.set_aside = expired;
            pending.next_try_at = now + self.settings.backoff_ms(pending.attempts);
            self.outbox.save(&pending)?;
            if !expired {
                return Ok(false);
            }
            tracing::warn!(webhook = hook.id, event = %pending.event_id, "webhook delivery set aside after its retry period");
        }
        self.advance(hook.id, &pending.stream, pending.seq)?;
        Ok(true)
    }

    /// A set-aside event sent again by hand: once; set aside again if it fails.
    async fn resend(&self, hook: &Webhook, mut pending: Pending) -> Result<(), JournalError> {
        let Some(event) = self.event(&pending.stream, pending.seq)? else {
            return Ok(());
        };
        let (_, body) = payload(&pending.stream, pending.seq, &event);
        let answer = self.send(hook, &pending, &body).await;
        let delivered = answer.status.is_some_and(|s| (200..300).contains(&s));
        let outcome = if delivered { "delivered" } else { "set_aside" };
        self.record(&pending, now_ms(), answer, outcome)?;
        if delivered {
            self.outbox.forget(&pending)
        } else {
            pending.set_aside = true;
            pending.attempts += 1;
            self.outbox.save(&pending)
        }
    }

    fn cursor(&self, webhook: u32, stream: &StreamId) -> Result<u64, JournalError> {
        let key = (webhook, stream.clone());
        if let Some(seq) = self.cursors.get(&key) {
            return Ok(*seq);
        }
        let seq = self.outbox.cursor(webhook, stream)?;
        self.cursors.insert(key, seq);
        Ok(seq)
    }

    fn advance(&self, webhook: u32, stream: &StreamId, seq: u64) -> Result<(), JournalError> {
        self.outbox.advance(webhook, stream, seq)?;
        self.cursors
            .entry((webhook, stream.clone()))
            .and_modify(|s| *s = (*s).max(seq))
            .or_insert(seq);
        Ok(())
    }

    /// Writes an attempt of `pending` to the delivery log.
    fn record(
        &self,
        pending: &Pending,
        at: i64,
        answer: Answer,
        outcome: &'static str,
    ) -> Result<(), JournalError> {
        self.outbox.log(&Attempt {
            id: 0,
            webhook: pending.webhook,
            event_id: pending.event_id.clone(),
            kind: pending.kind.clone(),
            seq: pending.seq,
            at,
            status: answer.status,
            error: answer.error,
            outcome,
        })
    }

    async fn send(&self, hook: &Webhook, pending: &Pending, body: &Value) -> Answer {
        let allow = self.settings.allow_private_targets;
        if let Err(e) = check_target(&hook.url, allow, true).await {
            return Answer::failed(e.to_string());
        }
        let text = body.to_string();
        let t = now_ms() / 1000;
        let request = self
            .http
            .post(&hook.url)
            .header("Content-Type", "application/json")
            .header("X-Magasin-Signature", signature(&hook.secret, t, &text))
            .header("X-Magasin-Event-Id", &pending.event_id)
            .header("X-Magasin-Event-Type", &pending.kind)
            .header("X-Magasin-Stream", pending.stream.as_str())
            .header("X-Magasin-Sequence", pending.seq.to_string())
            .body(text);
        match request.send().await {
            Ok(response) => Answer {
                status: Some(response.status().as_u16()),
                error: None,
            },
            Err(e) => Answer::failed(e.to_string()),
        }
    }

    fn events(
        &self,
        stream: &StreamId,
        after: u64,
    ) -> Result<Vec<(u64, DomainEvent)>, JournalError> {
        read_events(&self.journal, stream, after, PAGE)
    }

    fn event(&self, stream: &StreamId, seq: u64) -> Result<Option<DomainEvent>, JournalError> {
        Ok(
            read_events(&self.journal, stream, seq.saturating_sub(1), 1)?
                .into_iter()
                .find(|(s, _)| *s == seq)
                .map(|(_, e)| e),
        )
    }
}

struct Answer {
    status: Option<u16>,
    error: Option<String>,
}

impl Answer {
    fn failed(error: String) -> Self {
        Self {
            status: None,
            error: Some(error),
        }
    }
}

/// A stream's events after `after`, typed by the stream's kind.
fn read_events(
    journal: &Journal,
    stream: &StreamId,
    after: u64,
    limit: usize,
) -> Result<Vec<(u64, DomainEvent)>, JournalError> {
    if *stream == StreamId::chain() {
        let events = journal.read::<ChainEvent>(stream, after, limit)?;
        Ok(events
            .into_iter()
            .map(|(s, e)| (s, DomainEvent::Chain(e)))
            .collect())
    } else if let Some(store) = stream.store_id() {
        let events = journal.read::<StoreEvent>(stream, after, limit)?;
        Ok(events
            .into_iter()
            .map(|(s, e)| (s, DomainEvent::Store(store, e)))
            .collect())
    } else if let Some(sku) = stream.product_sku() {
        let events = journal.read::<CentralEvent>(stream, after, limit)?;
        Ok(events
            .into_iter()
            .map(|(s, e)| (s, DomainEvent::Central(sku.clone(), e)))
            .collect())
    } else {
        Ok(Vec::new())
    }
}

/// An event's type and the body a receiver gets.
fn payload(stream: &StreamId, seq: u64, event: &DomainEvent) -> (&'static str, Value) {
    let (_, _, kind, data) = describe(event, seq);
    let mut body = json!({
        "id": format!("{stream}:{seq}"),
        "type": kind,
        "stream": stream.as_str(),
        "seq": seq,
        "data": data,
    });
    if let Some(store) = stream.store_id() {
        body["store_id"] = json!(store.get());
    }
    (kind, body)
}

/// `t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// A new endpoint's secret: 32 random bytes, hexadecimal.
pub fn new_secret() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_an_hmac_sha256_of_time_dot_body() {
        // The primitive: RFC 4231, test case 2.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").expect("any key");
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").expect("any key");
        mac.update(b"1700000000.{\"a\":1}");
        assert_eq!(
            signature("Jefe", 1_700_000_000, "{\"a\":1}"),
            format!(
                "t=1700000000,v1={}",
                hex::encode(mac.finalize().into_bytes())
            )
        );
    }

    #[test]
    fn retries_double_with_jitter_up_to_the_cap() {
        let settings = WebhookSettings {
            allow_private_targets: false,
            timeout_ms: 1000,
            first_retry_ms: 1000,
            max_retry_ms: 60_000,
            retry_for_hours: 72,
        };
        for (attempts, full) in [(1, 1000), (2, 2000), (3, 4000), (7, 60_000), (40, 60_000)] {
            let delay = settings.backoff_ms(attempts);
            assert!((full / 2..=full).contains(&delay), "{attempts}: {delay}");
        }
    }
}
