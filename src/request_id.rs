//! The id of the request being served (`X-Request-Id`), for whatever it causes: error
//! bodies name it, and calls to other instances carry it, so one id follows a request
//! across every instance's log.

tokio::task_local! {
    /// Set by `http::observe` around each request's handling.
    pub static REQUEST_ID: String;
}

/// The id of the current request, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}
