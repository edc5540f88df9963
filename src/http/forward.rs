//! The routes whose requests another instance serves declare it here, on the route
//! (`wrap = "from_fn(forward::reference_data)"`): writes of the reference data go to its
//! owner, a product's central ledger to the product's owner. What forwarding does is
//! [`crate::cluster::forward`]'s; this maps its answer to HTTP.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, FromRequest, ResponseError, web};

use super::internal::Peer;
use super::problem::ApiError;
use super::{AppState, client};
use crate::cluster::forward::{self, CHAIN_SEQ_HEADER, ForwardError};
use crate::domain::Sku;

/// On a route that writes the reference data: a follower sends the request to the owner;
/// the owner answers a successful write with its sequence after it.
pub async fn reference_data<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let Some(app) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let owner = app.cluster.chain_owner().to_owned();
    let owned = owner == app.cluster.name();
    if !owned && !from_peer(&req) {
        return Ok(to_owner(&app, &owner, req).await.map_into_right_body());
    }
    let mut response = next.call(req).await?;
    let seq = HeaderValue::from_str(&app.registry.chain().seq().to_string());
    if let (true, true, Ok(seq)) = (owned, response.status().is_success(), seq) {
        let name = HeaderName::from_static(CHAIN_SEQ_HEADER);
        response.headers_mut().insert(name, seq);
    }
    Ok(response.map_into_left_body())
}

/// On a route about one product's central stock (`{sku}` in its path): the request goes to
/// the instance that holds the product's actor.
pub async fn product_owner<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let app = req.app_data::<web::Data<AppState>>().cloned();
    let sku = req
        .match_info()
        .get("sku")
        .and_then(|raw| Sku::parse(raw).ok());
    let owner = app
        .as_ref()
        .zip(sku)
        .map(|(app, sku)| app.cluster.product_owner(&sku).to_owned());
    match (app, owner) {
        (Some(app), Some(owner)) if owner != app.cluster.name() && !from_peer(&req) => {
            Ok(to_owner(&app, &owner, req).await.map_into_right_body())
        }
        _ => next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body),
    }
}

/// A request another instance forwarded is never forwarded again (two instances that
/// disagree on the owner would pass it back and forth): its handler answers.
fn from_peer(req: &ServiceRequest) -> bool {
    Peer::forwarder(req.request()).is_some()
}

/// Sends `req` to `owner` and answers with the owner's response.
async fn to_owner(app: &AppState, owner: &str, req: ServiceRequest) -> ServiceResponse {
    let (http, mut payload) = req.into_parts();
    let response = match web::Bytes::from_request(&http, &mut payload).await {
        Ok(body) => {
            let client = client::address(&http, &app.trusted_proxies).to_string();
            let client_header = (client::CLIENT_HEADER, client);
            forward::relay(&app.registry, &app.peers, owner, &http, body, client_header)
                .await
                .unwrap_or_else(|e| ApiError::from(e).error_response())
        }
        Err(e) => e.error_response(),
    };
    ServiceResponse::new(http, response)
}

impl From<ForwardError> for ApiError {
    fn from(e: ForwardError) -> Self {
        match e {
            ForwardError::Unavailable(why) => ApiError::PeerUnavailable(why),
            ForwardError::Unsendable(why) => ApiError::Internal(why),
        }
    }
}
