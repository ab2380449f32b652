//! Every route with its access decision, declared where the route is.
//!
//! An area builds its router through [`Routes`], which takes an [`Access`] with each
//! handler: a route cannot be added without saying who may reach it. A route for
//! signed-in people is gated here, before its handler and its body extractors run:
//! without a valid session, the login page (the session found is handed to the
//! handler's [`crate::Portal`], not looked up twice). The quality a route is for is
//! decided by its service, the bearer token and the client's credentials by the
//! handler's extractors; the table built beside the router is what the authorisation
//! suite walks, so that a declared decision nobody enforces fails it.

use std::collections::BTreeMap;

use axum::Router;
use axum::handler::Handler;
use axum::routing::MethodRouter;
use serde::Serialize;

/// Who may reach a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// Anyone, signed in or not: what a visitor may see (the public directory, the
    /// terms), what he needs to sign in, the provider's metadata, probes.
    Public,
    /// A signed-in person of any quality; anyone else is sent to the login page.
    SignedIn,
    /// A signed-in patient (his own record, or one he assists).
    Patient,
    /// A signed-in health professional.
    Professional,
    /// A bearer access token (RFC 6750) of the platform's provider.
    Bearer,
    /// An OAuth client authenticating itself (RFC 6749 §2.3).
    Client,
}

/// `method` behind the gate its access needs.
fn gated<S: Clone + Send + Sync + 'static>(
    method: MethodRouter<S>,
    access: Access,
) -> MethodRouter<S> {
    match access {
        Access::SignedIn | Access::Patient | Access::Professional => {
            method.route_layer(axum::middleware::from_fn(crate::portal::require_session))
        }
        Access::Public | Access::Bearer | Access::Client => method,
    }
}

/// One method on one path, and who may reach it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
}

/// An area's routes with their state given, and their table.
pub struct Area {
    pub router: Router,
    pub routes: Vec<RouteSpec>,
}

/// Builds an area's router and its table together.
pub struct Routes<S> {
    methods: BTreeMap<&'static str, MethodRouter<S>>,
    table: Vec<RouteSpec>,
}

impl<S: Clone + Send + Sync + 'static> Default for Routes<S> {
    fn default() -> Self {
        Routes {
            methods: BTreeMap::new(),
            table: Vec::new(),
        }
    }
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    pub fn new() -> Routes<S> {
        Routes::default()
    }

    /// `GET path`, reached by `access`.
    pub fn get<H, T>(mut self, path: &'static str, access: Access, handler: H) -> Routes<S>
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self = self.declare("GET", path, access);
        self.add(path, gated(MethodRouter::new().get(handler), access))
    }

    /// `POST path`, reached by `access`.
    pub fn post<H, T>(mut self, path: &'static str, access: Access, handler: H) -> Routes<S>
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self = self.declare("POST", path, access);
        self.add(path, gated(MethodRouter::new().post(handler), access))
    }

    fn add(mut self, path: &'static str, method: MethodRouter<S>) -> Routes<S> {
        let methods = match self.methods.remove(path) {
            Some(others) => others.merge(method),
            None => method,
        };
        self.methods.insert(path, methods);
        self
    }

    fn declare(mut self, method: &'static str, path: &'static str, access: Access) -> Routes<S> {
        assert!(
            !self
                .table
                .iter()
                .any(|r| r.method == method && r.path == path),
            "{method} {path} declared twice"
        );
        self.table.push(RouteSpec {
            method,
            path,
            access,
        });
        self
    }

    /// The routes in use with `state`.
    pub fn with_state(self, state: S) -> Area {
        let (router, routes) = self.into_parts();
        Area {
            router: router.with_state(state),
            routes,
        }
    }

    /// The router still waiting for its state (for a fallback to be added), and the
    /// table.
    pub fn into_parts(self) -> (Router<S>, Vec<RouteSpec>) {
        let mut router = Router::new();
        for (path, methods) in self.methods {
            router = router.route(path, methods);
        }
        (router, self.table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_each_method_of_each_path_once() {
        let area = Routes::<()>::new()
            .get("/a", Access::Public, || async { "a" })
            .post("/a", Access::SignedIn, || async { "posted" })
            .get("/b/{id}", Access::Bearer, || async { "b" })
            .with_state(());
        assert_eq!(
            area.routes,
            vec![
                RouteSpec {
                    method: "GET",
                    path: "/a",
                    access: Access::Public
                },
                RouteSpec {
                    method: "POST",
                    path: "/a",
                    access: Access::SignedIn
                },
                RouteSpec {
                    method: "GET",
                    path: "/b/{id}",
                    access: Access::Bearer
                },
            ]
        );
    }

    #[test]
    #[should_panic(expected = "GET /a declared twice")]
    fn a_route_is_declared_once() {
        let _ = Routes::<()>::new()
            .get("/a", Access::Public, || async { "a" })
            .get("/a", Access::SignedIn, || async { "again" });
    }
}
