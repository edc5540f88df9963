//! `/events`: the committed domain events the caller may see, as Server-Sent Events, so
//! dashboards update without polling. `Last-Event-ID` resumes after the last event seen.
//!
//! In a cluster each instance publishes the events of the stores and products it owns:
//! the instance a client reaches relays every other instance's (`/internal/v1/events`,
//! newline-delimited JSON) into the client's stream. An event's id is then where every
//! instance's feed stands (`12.40.7`, in the order of `[cluster] instances`), so a client
//! resumes each of them where it left off. Reference-data events come from the local copy
//! only (every instance has them).

use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use futures_util::StreamExt;
use serde::Deserialize;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

use super::AppState;
use super::auth::Authenticated;
use super::internal::Peer;
use super::problem::ApiError;
use crate::auth::{Permission, Principal};
use crate::domain::Role;
use crate::reports::{Audience, LiveEvent};

const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Before a relay reconnects to an instance that went away.
const RECONNECT: Duration = Duration::from_secs(1);
/// The longest a client's stream waits for the other instances' relays to open.
const CONNECT: Duration = Duration::from_secs(1);

fn visible(user: &Principal, event: &LiveEvent) -> bool {
    match (user.role, event.audience) {
        (Role::Admin, _) | (_, Audience::Everyone) => true,
        (Role::Logistics, Audience::Logistics) => true,
        (Role::Logistics, Audience::Store(_)) => event.restock,
        (Role::Cashier | Role::Manager, Audience::Store(store)) => user.store == Some(store),
        (_, Audience::Logistics | Audience::HeadOffice) => false,
    }
}

const RESET: &str = "event: reset\ndata: {\"detail\":\"Des événements ont été perdus ; rechargez les données.\"}\n\n";

/// What a relay from another instance hands the client's stream.
enum Relayed {
    Event(usize, LiveEvent),
    /// The instance could not resume where asked (it restarted, or the gap is too old).
    Reset(usize),
}

/// Where the client stands in every instance's feed.
struct Cursor {
    positions: Vec<u64>,
    /// This instance's place in `positions`.
    me: usize,
}

impl Cursor {
    /// `12` alone; `12.40.7` in a cluster (one position per instance, in order).
    fn parse(raw: Option<&str>, instances: usize) -> Option<Vec<u64>> {
        let parts: Vec<u64> = raw?
            .trim()
            .split('.')
            .map(|p| p.parse::<u64>().ok())
            .collect::<Option<_>>()?;
        (parts.len() == instances.max(1)).then_some(parts)
    }

    fn id(&self) -> String {
        let ids: Vec<String> = self.positions.iter().map(u64::to_string).collect();
        ids.join(".")
    }

    fn frame(&self, event: &LiveEvent) -> Bytes {
        Bytes::from(format!(
            "id: {}\nevent: {}\ndata: {}\n\n",
            self.id(),
            event.kind,
            event.data
        ))
    }
}

struct Feed {
    user: Principal,
    pending: VecDeque<Bytes>,
    live: broadcast::Receiver<LiveEvent>,
    remote: mpsc::Receiver<Relayed>,
    cursor: Cursor,
    ticker: tokio::time::Interval,
    closed: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>,
}

impl Feed {
    /// A client's feed: the events replayed from its cursor (or a reset when they are no
    /// longer kept), then this instance's and the others' as they come.
    fn open(
        app: &AppState,
        user: Principal,
        cursor: Cursor,
        (live, remote): (broadcast::Receiver<LiveEvent>, mpsc::Receiver<Relayed>),
        replay: Option<Vec<LiveEvent>>,
    ) -> Self {
        let me = cursor.me;
        let mut feed = Feed {
            user,
            pending: VecDeque::new(),
            live,
            remote,
            cursor,
            ticker: tokio::time::interval(KEEP_ALIVE),
            closed: Box::pin(app.events.closed()),
        };
        match replay {
            Some(replayed) => {
                for event in &replayed {
                    feed.take(me, event);
                }
            }
            None => feed.pending.push_back(Bytes::from_static(RESET.as_bytes())),
        }
        // A first comment makes the response start at once (clients see the stream open).
        feed.pending
            .push_front(Bytes::from_static(b": magasin\n\n"));
        feed.ticker.reset();
        feed
    }

    /// The server-sent events' bytes: what is pending, then each event, reset and
    /// keep-alive as it comes, until the client or the server goes.
    fn into_stream(self) -> impl futures_util::Stream<Item = Result<Bytes, actix_web::Error>> {
        futures_util::stream::unfold(self, |mut feed| async move {
            loop {
                if let Some(bytes) = feed.pending.pop_front() {
                    return Some((Ok::<_, actix_web::Error>(bytes), feed));
                }
                tokio::select! {
                    received = feed.live.recv() => match received {
                        Ok(event) => {
                            let me = feed.cursor.me;
                            feed.take(me, &event);
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            feed.pending.push_back(Bytes::from_static(RESET.as_bytes()));
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    },
                    Some(relayed) = feed.remote.recv() => match relayed {
                        Relayed::Event(instance, event) => feed.take(instance, &event),
                        Relayed::Reset(instance) => {
                            feed.cursor.positions[instance] = 0;
                            feed.pending.push_back(Bytes::from_static(RESET.as_bytes()));
                        }
                    },
                    _ = feed.ticker.tick() => feed.pending.push_back(Bytes::from_static(b": keep-alive\n\n")),
                    () = &mut feed.closed => return None,
                }
            }
        })
    }

    fn take(&mut self, instance: usize, event: &LiveEvent) {
        if event.position > self.cursor.positions[instance] {
            self.cursor.positions[instance] = event.position;
            if visible(&self.user, event) {
                let frame = self.cursor.frame(event);
                self.pending.push_back(frame);
            }
        }
    }
}

/// The live feed. Events are filtered by role: a store's users see their store, logistics
/// sees restocks and central stock, head office sees everything.
#[utoipa::path(
    tag = "événements",
    responses((status = 200, description = "Flux Server-Sent Events (text/event-stream)", body = String, content_type = "text/event-stream"))
)]
#[get("/events")]
async fn events(
    app: web::Data<AppState>,
    user: Authenticated,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    user.require(Permission::ReadChain, None)?;
    let instances = app.cluster.instances();
    let me = instances.iter().position(|n| n == app.cluster.name());
    let me = me.unwrap_or(0);
    let resume = Cursor::parse(last_event_id(&req), instances.len());
    let (replay, live) = app.events.subscribe(resume.as_ref().map(|p| p[me]));
    let remote = relay_others(&app, me, resume.as_deref()).await;
    let cursor = Cursor {
        positions: resume.unwrap_or_else(|| vec![0; instances.len().max(1)]),
        me,
    };
    let feed = Feed::open(&app, (*user).clone(), cursor, (live, remote), replay);
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(feed.into_stream()))
}

/// The `Last-Event-ID` a client resumes from, if it sent one.
fn last_event_id(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get("Last-Event-ID")
        .and_then(|v| v.to_str().ok())
}

/// Starts relaying every other instance's events (from `resume`'s positions) into one
/// channel; returns once each relays, or could not within [`CONNECT`]: an event committed
/// after the client sees the stream open reaches it.
async fn relay_others(
    app: &web::Data<AppState>,
    me: usize,
    resume: Option<&[u64]>,
) -> mpsc::Receiver<Relayed> {
    let (relay, remote) = mpsc::channel(1024);
    let mut connected = Vec::new();
    let instances = app.cluster.instances();
    for (index, name) in instances.iter().enumerate().filter(|(i, _)| *i != me) {
        let after = resume.map(|p| p[index]);
        let (ready, is_ready) = tokio::sync::oneshot::channel();
        connected.push(is_ready);
        let relay = relay.clone();
        actix_rt::spawn(follow(
            app.clone(),
            name.clone(),
            index,
            after,
            relay,
            ready,
        ));
    }
    let _ = tokio::time::timeout(CONNECT, futures_util::future::join_all(connected)).await;
    remote
}

/// Relays another instance's events to one client's stream until the client goes away;
/// reconnects after a failure from the last position it relayed.
async fn follow(
    app: web::Data<AppState>,
    instance: String,
    index: usize,
    mut after: Option<u64>,
    relay: mpsc::Sender<Relayed>,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    while !relay.is_closed() {
        let path = match after {
            Some(after) => format!("/internal/v1/events?after={after}"),
            None => "/internal/v1/events".to_owned(),
        };
        let response = match app.peers.request(reqwest::Method::GET, &instance, &path) {
            Ok(request) => request.send().await,
            Err(e) => {
                tracing::warn!(instance = %instance, error = %e, "no live events from this instance");
                return;
            }
        };
        match response {
            Ok(response) if response.status().is_success() => {
                if let Some(ready) = ready.take() {
                    let _ = ready.send(());
                }
                let mut lines = response.bytes_stream();
                let mut buffer = Vec::new();
                loop {
                    // The client went away, or the instance fell silent for longer than
                    // two keep-alives (frozen, or the network cut): stop, or reconnect.
                    let chunk = tokio::select! {
                        () = relay.closed() => return,
                        chunk = tokio::time::timeout(2 * KEEP_ALIVE, lines.next()) => chunk,
                    };
                    let Ok(Some(Ok(chunk))) = chunk else {
                        break;
                    };
                    buffer.extend_from_slice(&chunk);
                    while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                        let line: Vec<u8> = buffer.drain(..=end).collect();
                        if line.iter().all(u8::is_ascii_whitespace) {
                            continue;
                        }
                        let relayed = match serde_json::from_slice::<Line>(&line) {
                            Ok(Line::Event(event)) => {
                                after = Some(event.position);
                                Relayed::Event(index, event)
                            }
                            Ok(Line::Reset { .. }) => {
                                after = None;
                                Relayed::Reset(index)
                            }
                            // Another version's event: the client cannot be told what it
                            // missed, so it is told to reload.
                            Err(e) => {
                                tracing::warn!(instance = %instance, error = %e, "unreadable live event");
                                Relayed::Reset(index)
                            }
                        };
                        if relay.send(relayed).await.is_err() {
                            return;
                        }
                    }
                }
            }
            Ok(response) => {
                tracing::warn!(instance = %instance, status = %response.status(), "live events refused");
            }
            Err(e) => {
                tracing::debug!(instance = %instance, error = %e, "live events interrupted");
            }
        }
        tokio::time::sleep(RECONNECT).await;
    }
}

/// One line of `/internal/v1/events`.
#[derive(Deserialize, serde::Serialize)]
#[serde(untagged)]
enum Line {
    Reset { reset: bool },
    Event(LiveEvent),
}

/// This instance's events on their way to another instance.
struct Outbound {
    pending: VecDeque<Bytes>,
    live: broadcast::Receiver<LiveEvent>,
    last: u64,
    ticker: tokio::time::Interval,
    closed: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InternalQuery {
    after: Option<u64>,
}

fn json_line(line: &Line) -> Bytes {
    let mut bytes = serde_json::to_vec(line).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

/// This instance's own events (not the reference data's), for another instance's clients:
/// one JSON object per line, an empty line every 15 s, `{"reset":true}` when `after` is no
/// longer held.
#[get("/events")]
pub(super) async fn internal_events(
    app: web::Data<AppState>,
    _peer: Peer,
    query: web::Query<InternalQuery>,
) -> HttpResponse {
    let outbound = Outbound::open(&app, query.after);
    HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .streaming(outbound.into_stream())
}

impl Outbound {
    /// This instance's events after `after` for another instance (reference-data events
    /// left out: every instance has them), or a reset when they are no longer kept.
    fn open(app: &AppState, after: Option<u64>) -> Self {
        let (replay, live) = app.events.subscribe(after);
        let mut pending: VecDeque<Bytes> = VecDeque::new();
        let mut last = after.unwrap_or(0);
        match replay {
            Some(replayed) => {
                for event in replayed.into_iter().filter(|e| !e.chain) {
                    last = last.max(event.position);
                    pending.push_back(json_line(&Line::Event(event)));
                }
            }
            None => pending.push_back(json_line(&Line::Reset { reset: true })),
        }
        // A first empty line: the caller knows at once that the stream is open.
        pending.push_front(Bytes::from_static(b"\n"));
        let mut ticker = tokio::time::interval(KEEP_ALIVE);
        ticker.reset();
        Outbound {
            pending,
            live,
            last,
            ticker,
            closed: Box::pin(app.events.closed()),
        }
    }

    /// One JSON line per event, a reset line when events were missed, an empty line to
    /// keep the connection alive.
    fn into_stream(self) -> impl futures_util::Stream<Item = Result<Bytes, actix_web::Error>> {
        futures_util::stream::unfold(self, |mut out| async move {
            loop {
                if let Some(bytes) = out.pending.pop_front() {
                    return Some((Ok::<_, actix_web::Error>(bytes), out));
                }
                tokio::select! {
                    received = out.live.recv() => match received {
                        Ok(event) => {
                            if event.position > out.last {
                                out.last = event.position;
                                if !event.chain {
                                    out.pending.push_back(json_line(&Line::Event(event)));
                                }
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            out.pending.push_back(json_line(&Line::Reset { reset: true }));
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    },
                    _ = out.ticker.tick() => out.pending.push_back(Bytes::from_static(b"\n")),
                    () = &mut out.closed => return None,
                }
            }
        })
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(events);
}

/// The OpenAPI description of this module's routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(events))]
pub(super) struct Docs;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_id_holds_one_position_per_instance() {
        assert_eq!(Cursor::parse(Some("12"), 0), Some(vec![12]));
        assert_eq!(Cursor::parse(Some("12.40.7"), 3), Some(vec![12, 40, 7]));
        // An id of another shape (another cluster size, garbage) resumes nothing.
        assert_eq!(Cursor::parse(Some("12"), 3), None);
        assert_eq!(Cursor::parse(Some("12.x.7"), 3), None);
        assert_eq!(Cursor::parse(None, 3), None);
        let cursor = Cursor {
            positions: vec![12, 40, 7],
            me: 1,
        };
        assert_eq!(cursor.id(), "12.40.7");
    }
}
