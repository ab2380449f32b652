//! The one mapping from errors to HTTP responses. Pages answer with a localized HTML
//! page; the FHIR API (later) answers with an OperationOutcome.

use axum::response::{Html, IntoResponse, Response};
use http::StatusCode;

use crate::i18n::Msg;
use crate::pages::{self, Layout};

/// Why a request failed, as far as the client is told.
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
    /// The access could not be traced, or a dependency is down: the request must not
    /// proceed (PLT-6).
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl HttpError {
    pub fn status(&self) -> StatusCode {
        match self {
            HttpError::NotFound => StatusCode::NOT_FOUND,
            HttpError::BadRequest => StatusCode::BAD_REQUEST,
            HttpError::FormRefused => StatusCode::FORBIDDEN,
            HttpError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            HttpError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The page shown for this error, in the visitor's language.
    pub fn page(&self, layout: &Layout) -> Response {
        if let HttpError::Unavailable(reason) | HttpError::Internal(reason) = self {
            // Details go to the log only; the page says nothing internal.
            tracing::error!(error = %reason, status = self.status().as_u16(), "request failed");
        }
        let (title, text) = match self {
            HttpError::NotFound => (Msg::NotFoundTitle, Msg::NotFoundText),
            HttpError::BadRequest => (Msg::BadRequestTitle, Msg::BadRequestText),
            HttpError::FormRefused => (Msg::ForbiddenTitle, Msg::ForbiddenText),
            HttpError::Unavailable(_) | HttpError::Internal(_) => {
                (Msg::UnavailableTitle, Msg::UnavailableText)
            }
        };
        let body = pages::error_page(layout, title, text);
        (self.status(), Html(body)).into_response()
    }
}
