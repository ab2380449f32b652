//! The one mapping from errors to HTTP answers. Every error of the platform has a
//! kind ([`ErrorKind`]); [`status`] turns a kind into the HTTP status, and each kind of
//! front end renders it its own way: a localized page ([`HttpError`]), a FHIR
//! OperationOutcome ([`ApiFailure`]), an OAuth error ([`OAuthFailure`]), or the JSON
//! answer of a portal script ([`ScriptFailure`]). A refusal is therefore the same
//! refusal, with the same status, on every front end.
//!
//! Failures that are the platform's fault are logged here with their code and
//! detail; the client is told nothing internal.

use axum::response::{Html, IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use sante_types::{Coded, ErrorKind};
use serde_json::{Value, json};

use crate::i18n::Msg;
use crate::layout::{self, Layout};

/// The HTTP status of a kind of failure, for every front end.
pub fn status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Denied => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Throttled => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Logs a failure that is the platform's fault (never what the client sent).
fn log_fault(code: &str, kind: ErrorKind, detail: &dyn std::fmt::Display) {
    if kind.is_platform_fault() {
        tracing::error!(code, error = %detail, status = status(kind).as_u16(), "request failed");
    }
}

/// Why a portal request failed, as far as the visitor is told.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("not found")]
    NotFound,
    /// A form that cannot be read (malformed, too large, an unknown choice).
    #[error("bad request")]
    BadRequest,
    /// A form without a valid CSRF token.
    #[error("form refused")]
    FormRefused,
    /// The visitor is known but may not do this.
    #[error("denied")]
    Denied,
    /// The request conflicts with the current state.
    #[error("conflict")]
    Conflict,
    /// The page needs a login.
    #[error("login required")]
    LoginRequired,
    /// The visitor asked too much or too often.
    #[error("too many requests")]
    Throttled,
    /// The access could not be traced, or a dependency is down: the request must not
    /// proceed (PLT-6). The text is for the log.
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Coded for HttpError {
    fn code(&self) -> &'static str {
        match self {
            HttpError::NotFound => "HTP001",
            HttpError::BadRequest => "HTP002",
            HttpError::FormRefused => "HTP003",
            HttpError::Denied => "HTP004",
            HttpError::Conflict => "HTP005",
            HttpError::LoginRequired => "HTP006",
            HttpError::Unavailable(_) => "HTP007",
            HttpError::Internal(_) => "HTP008",
            HttpError::Throttled => "HTP009",
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            HttpError::NotFound => ErrorKind::NotFound,
            HttpError::BadRequest => ErrorKind::Invalid,
            HttpError::FormRefused | HttpError::Denied => ErrorKind::Denied,
            HttpError::Conflict => ErrorKind::Conflict,
            HttpError::LoginRequired => ErrorKind::Unauthenticated,
            HttpError::Throttled => ErrorKind::Throttled,
            HttpError::Unavailable(_) => ErrorKind::Unavailable,
            HttpError::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl HttpError {
    /// The page error for any error of the platform, by its kind.
    pub fn from_error<E: Coded>(e: &E) -> HttpError {
        let detail = || format!("{}: {e}", e.code());
        match e.kind() {
            ErrorKind::Invalid => HttpError::BadRequest,
            ErrorKind::Unauthenticated => HttpError::LoginRequired,
            ErrorKind::Denied => HttpError::Denied,
            ErrorKind::NotFound => HttpError::NotFound,
            ErrorKind::Conflict => HttpError::Conflict,
            ErrorKind::Throttled => HttpError::Throttled,
            ErrorKind::Unavailable => HttpError::Unavailable(detail()),
            ErrorKind::Internal => HttpError::Internal(detail()),
        }
    }

    pub fn status(&self) -> StatusCode {
        status(self.kind())
    }

    /// The page shown for this error, in the visitor's language.
    pub fn page(&self, layout: &Layout) -> Response {
        self.page_saying(layout, None)
    }

    /// The page shown for this error, with `text` instead of the general explanation.
    pub fn page_saying(&self, layout: &Layout, text: Option<&'static str>) -> Response {
        if let HttpError::Unavailable(reason) | HttpError::Internal(reason) = self {
            // Details go to the log only; the page says nothing internal.
            log_fault(self.code(), self.kind(), reason);
        }
        let (title, general) = match self {
            HttpError::NotFound => (Msg::NotFoundTitle, Msg::NotFoundText),
            HttpError::BadRequest => (Msg::BadRequestTitle, Msg::BadRequestText),
            HttpError::FormRefused => (Msg::ForbiddenTitle, Msg::ForbiddenText),
            HttpError::Denied => (Msg::ForbiddenTitle, Msg::DeniedText),
            HttpError::Conflict => (Msg::ConflictTitle, Msg::ConflictText),
            HttpError::LoginRequired => (Msg::LoginRequiredTitle, Msg::LoginRequiredText),
            HttpError::Throttled => (Msg::ThrottledTitle, Msg::ThrottledText),
            HttpError::Unavailable(_) | HttpError::Internal(_) => {
                (Msg::UnavailableTitle, Msg::UnavailableText)
            }
        };
        let body = layout::error_page(layout, title, text.unwrap_or(layout.t(general)));
        (self.status(), Html(body)).into_response()
    }
}

/// The issue types of FHIR's `issue-type` value set that the platform reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueType {
    Invalid,
    NotSupported,
    NotFound,
    Login,
    Forbidden,
    Conflict,
    TooCostly,
    Throttled,
    Exception,
    Transient,
}

impl IssueType {
    pub fn code(self) -> &'static str {
        match self {
            IssueType::Invalid => "invalid",
            IssueType::NotSupported => "not-supported",
            IssueType::NotFound => "not-found",
            IssueType::Login => "login",
            IssueType::Forbidden => "forbidden",
            IssueType::Conflict => "conflict",
            IssueType::TooCostly => "too-costly",
            IssueType::Throttled => "throttled",
            IssueType::Exception => "exception",
            IssueType::Transient => "transient",
        }
    }

    fn of(kind: ErrorKind) -> IssueType {
        match kind {
            ErrorKind::Invalid => IssueType::Invalid,
            ErrorKind::Unauthenticated => IssueType::Login,
            ErrorKind::Denied => IssueType::Forbidden,
            ErrorKind::NotFound => IssueType::NotFound,
            ErrorKind::Conflict => IssueType::Conflict,
            ErrorKind::Throttled => IssueType::Throttled,
            ErrorKind::Unavailable => IssueType::Transient,
            ErrorKind::Internal => IssueType::Exception,
        }
    }
}

/// An OperationOutcome with one error issue.
pub fn operation_outcome(issue: IssueType, diagnostics: &str) -> Value {
    json!({
        "resourceType": "OperationOutcome",
        "issue": [{
            "severity": "error",
            "code": issue.code(),
            "diagnostics": diagnostics,
        }]
    })
}

/// A JSON body as FHIR's media type.
pub fn fhir_json(status: StatusCode, value: &Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/fhir+json; charset=utf-8"),
        )],
        value.to_string(),
    )
        .into_response()
}

/// A failed request of a FHIR API: answered with its status and an OperationOutcome.
#[derive(Debug)]
pub struct ApiFailure {
    status: StatusCode,
    issue: IssueType,
    message: String,
    /// A bearer token was presented and refused (RFC 6750 `invalid_token`), rather
    /// than missing.
    token_refused: bool,
}

impl ApiFailure {
    /// A failure of `kind` told as `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ApiFailure {
        ApiFailure {
            status: status(kind),
            issue: IssueType::of(kind),
            message: message.into(),
            token_refused: false,
        }
    }

    /// Any error of the platform, by its kind; platform faults are logged and told
    /// only as temporarily unavailable.
    pub fn from_error<E: Coded>(e: &E) -> ApiFailure {
        let kind = e.kind();
        if kind.is_platform_fault() {
            log_fault(e.code(), kind, e);
            return ApiFailure::new(kind, "the service is temporarily unavailable");
        }
        ApiFailure::new(kind, e.to_string())
    }

    /// A request for what the API does not offer (an interaction, a parameter).
    pub fn not_supported(kind: ErrorKind, message: impl Into<String>) -> ApiFailure {
        ApiFailure {
            issue: IssueType::NotSupported,
            ..ApiFailure::new(kind, message)
        }
    }

    /// A body larger than the interaction accepts.
    pub fn too_large(message: impl Into<String>) -> ApiFailure {
        ApiFailure {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            issue: IssueType::TooCostly,
            ..ApiFailure::new(ErrorKind::Invalid, message)
        }
    }

    /// A body of a media type the interaction does not read.
    pub fn unsupported_media_type(message: impl Into<String>) -> ApiFailure {
        ApiFailure {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            issue: IssueType::NotSupported,
            ..ApiFailure::new(ErrorKind::Invalid, message)
        }
    }

    /// A bearer token that was presented and refused.
    pub fn token_refused(message: impl Into<String>) -> ApiFailure {
        ApiFailure {
            token_refused: true,
            ..ApiFailure::new(ErrorKind::Unauthenticated, message)
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }
}

/// Any error of the platform answers a FHIR request by its kind.
impl<E: Coded> From<E> for ApiFailure {
    fn from(e: E) -> ApiFailure {
        ApiFailure::from_error(&e)
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let mut res = fhir_json(self.status, &operation_outcome(self.issue, &self.message));
        if self.status == StatusCode::UNAUTHORIZED {
            let challenge = if self.token_refused {
                "Bearer realm=\"sante\", error=\"invalid_token\""
            } else {
                "Bearer realm=\"sante\""
            };
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        res
    }
}

/// The challenge of an OAuth error answered 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// A client that failed to authenticate with HTTP Basic (RFC 6749 §5.2).
    Basic,
    /// A refused bearer token (RFC 6750 §3).
    InvalidToken,
}

/// An OAuth 2.0 error answer (RFC 6749 §5.2, RFC 6750 §3): `error` and
/// `error_description` as JSON, never cached.
#[derive(Debug)]
pub struct OAuthFailure {
    kind: ErrorKind,
    error: &'static str,
    description: String,
    challenge: Option<Challenge>,
}

impl OAuthFailure {
    /// `error` is the OAuth error code; `description` is shown to the client, so it
    /// must hold nothing internal.
    pub fn new(kind: ErrorKind, error: &'static str, description: impl Into<String>) -> Self {
        OAuthFailure {
            kind,
            error,
            description: description.into(),
            challenge: None,
        }
    }

    pub fn with_challenge(mut self, challenge: Challenge) -> OAuthFailure {
        self.challenge = Some(challenge);
        self
    }

    /// Logs the detail of a platform fault (`e`) behind this answer.
    pub fn logged<E: Coded>(self, e: &E) -> OAuthFailure {
        log_fault(e.code(), e.kind(), e);
        self
    }
}

impl IntoResponse for OAuthFailure {
    fn into_response(self) -> Response {
        let mut res = no_store(
            (
                status(self.kind),
                axum::Json(json!({"error": self.error, "error_description": self.description})),
            )
                .into_response(),
        );
        let challenge = match self.challenge {
            Some(Challenge::Basic) => Some("Basic realm=\"sante\""),
            Some(Challenge::InvalidToken) => Some("Bearer error=\"invalid_token\""),
            None => None,
        };
        if let Some(c) = challenge {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(c));
        }
        res
    }
}

/// Marks an answer as never to be stored by any cache (token answers, RFC 6749 §5.1).
pub fn no_store(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// The JSON refusal of a portal script's request: `{"error": message}`, the message
/// in the visitor's language.
#[derive(Debug)]
pub struct ScriptFailure {
    kind: ErrorKind,
    message: &'static str,
}

impl ScriptFailure {
    pub fn new(kind: ErrorKind, message: &'static str) -> ScriptFailure {
        ScriptFailure { kind, message }
    }

    /// Logs the detail of a platform fault (`e`) behind this answer.
    pub fn logged<E: Coded>(self, e: &E) -> ScriptFailure {
        log_fault(e.code(), e.kind(), e);
        self
    }
}

impl IntoResponse for ScriptFailure {
    fn into_response(self) -> Response {
        (
            status(self.kind),
            axum::Json(json!({ "error": self.message })),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    const KINDS: [ErrorKind; 8] = [
        ErrorKind::Invalid,
        ErrorKind::Unauthenticated,
        ErrorKind::Denied,
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::Throttled,
        ErrorKind::Unavailable,
        ErrorKind::Internal,
    ];

    /// An error of some context, of any kind.
    #[derive(Debug, thiserror::Error)]
    #[error("refused")]
    struct Refusal(ErrorKind);

    impl Coded for Refusal {
        fn code(&self) -> &'static str {
            "TST001"
        }
        fn kind(&self) -> ErrorKind {
            self.0
        }
    }

    #[test]
    fn every_front_end_answers_a_kind_with_the_same_status() {
        let layout = Layout::new(Lang::Fr, String::new(), "/".into(), Vec::new().into(), "/");
        for kind in KINDS {
            let e = Refusal(kind);
            let expected = status(kind);
            let page = HttpError::from_error(&e).page(&layout).status();
            let api = ApiFailure::from_error(&e).into_response().status();
            let oauth = OAuthFailure::new(kind, "access_denied", "x")
                .into_response()
                .status();
            let script = ScriptFailure::new(kind, "x").into_response().status();
            assert_eq!(
                [page, api, oauth, script],
                [expected; 4],
                "{kind:?}: page, FHIR, OAuth and script answers differ"
            );
        }
    }

    #[test]
    fn platform_faults_tell_the_client_nothing_internal() {
        let e = Refusal(ErrorKind::Unavailable);
        let body = operation_outcome(IssueType::Transient, "x");
        assert_eq!(body["issue"][0]["code"], "transient");
        let failure = ApiFailure::from_error(&e);
        assert!(!failure.message.contains("refused"), "{failure:?}");
    }

    #[test]
    fn a_refused_token_is_told_apart_from_a_missing_one() {
        let missing =
            ApiFailure::new(ErrorKind::Unauthenticated, "a token is required").into_response();
        assert_eq!(
            missing.headers()[header::WWW_AUTHENTICATE],
            "Bearer realm=\"sante\""
        );
        let refused = ApiFailure::token_refused("expired").into_response();
        assert!(
            refused.headers()[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .contains("invalid_token")
        );
    }
}
