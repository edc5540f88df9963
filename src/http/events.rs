//! `/events`: the committed domain events the caller may see, as Server-Sent Events, so
//! dashboards update without polling. `Last-Event-ID` resumes after the last event seen.

use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::broadcast;

use super::AppState;
use super::auth::Authenticated;
use super::problem::ApiError;
use crate::auth::{Permission, Principal};
use crate::domain::Role;
use crate::reports::{Audience, LiveEvent};

const KEEP_ALIVE: Duration = Duration::from_secs(15);

fn visible(user: &Principal, event: &LiveEvent) -> bool {
    match (user.role, event.audience) {
        (Role::Admin, _) | (_, Audience::Everyone) => true,
        (Role::Logistics, Audience::Logistics) => true,
        (Role::Logistics, Audience::Store(_)) => event.restock,
        (Role::Cashier | Role::Manager, Audience::Store(store)) => user.store == Some(store),
        (_, Audience::Logistics | Audience::HeadOffice) => false,
    }
}

fn frame(event: &LiveEvent) -> Bytes {
    Bytes::from(format!(
        "id: {}\nevent: {}\ndata: {}\n\n",
        event.position, event.kind, event.data
    ))
}

const RESET: &str = "event: reset\ndata: {\"detail\":\"Des événements ont été perdus ; rechargez les données.\"}\n\n";

struct Feed {
    user: Principal,
    pending: VecDeque<Bytes>,
    live: broadcast::Receiver<LiveEvent>,
    last: u64,
    ticker: tokio::time::Interval,
    closed: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>,
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
    let after = req
        .headers()
        .get("Last-Event-ID")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let (replay, live) = app.events.subscribe(after);
    let user: Principal = (*user).clone();
    let mut pending = VecDeque::new();
    let mut last = after.unwrap_or(0);
    match replay {
        Some(events) => {
            for event in events {
                last = last.max(event.position);
                if visible(&user, &event) {
                    pending.push_back(frame(&event));
                }
            }
        }
        None => pending.push_back(Bytes::from_static(RESET.as_bytes())),
    }
    // A first comment makes the response start at once (clients see the stream open).
    pending.push_front(Bytes::from_static(b": magasin\n\n"));
    let mut ticker = tokio::time::interval(KEEP_ALIVE);
    ticker.reset();
    let feed = Feed {
        user,
        pending,
        live,
        last,
        ticker,
        closed: Box::pin(app.events.closed()),
    };
    let stream = futures_util::stream::unfold(feed, |mut feed| async move {
        loop {
            if let Some(bytes) = feed.pending.pop_front() {
                return Some((Ok::<_, actix_web::Error>(bytes), feed));
            }
            tokio::select! {
                received = feed.live.recv() => match received {
                    Ok(event) => {
                        if event.position > feed.last {
                            feed.last = event.position;
                            if visible(&feed.user, &event) {
                                feed.pending.push_back(frame(&event));
                            }
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        feed.pending.push_back(Bytes::from_static(RESET.as_bytes()));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                _ = feed.ticker.tick() => feed.pending.push_back(Bytes::from_static(b": keep-alive\n\n")),
                () = &mut feed.closed => return None,
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(events);
}

/// The OpenAPI description of this module's routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(events))]
pub(super) struct Docs;
