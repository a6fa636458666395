//! Bearer-token authentication: [`Auth`] for some or all [`RouteGroup`]s, checked by a
//! middleware before routing.
//!
//! Hand-written rather than tower-http's `ValidateRequestHeaderLayer::bearer`, which compares
//! with `==` (its time depends on how much of the token matched) and answers with an empty
//! body.

use std::fmt;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::error::Failure;
use crate::error::ErrorKind;
use crate::error::ServeError;

/// The longest bearer token accepted in the configuration, in bytes.
const MAX_TOKEN_BYTES: usize = 4096;

/// A group of routes that can be protected on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RouteGroup {
    /// The actor routes: `/actors/{type}/{key}/...`.
    Actors,
    /// The listing: `GET /actors`.
    Listing,
    /// Every path neither under `/actors` nor under `/admin`, except `/metrics`: the worker.
    Worker,
    /// The operator's routes: `GET /metrics`, `/admin` and every path under `/admin/`, such as
    /// the inspector's JSON API ([`ServerBuilder::inspector`](crate::http::ServerBuilder::inspector))
    /// and `POST /admin/backup`. A worker that serves paths there (without the inspector) is in
    /// this group too. The inspector's page itself, `GET /admin/`, is served without a token: it
    /// holds no data, and its script sends the token on every call it makes.
    Admin,
}

impl RouteGroup {
    /// Every group.
    pub const ALL: [RouteGroup; 4] = [Self::Actors, Self::Listing, Self::Worker, Self::Admin];

    /// The group a request path belongs to.
    pub fn of(path: &str) -> Self {
        if path == super::prometheus::PATH {
            return Self::Admin;
        }
        if let Some(rest) = path.strip_prefix("/admin")
            && (rest.is_empty() || rest.starts_with('/'))
        {
            return Self::Admin;
        }
        match path.strip_prefix("/actors") {
            Some("") => Self::Listing,
            Some(rest) if rest.starts_with('/') => Self::Actors,
            _ => Self::Worker,
        }
    }
}

/// A bearer token that requests must present (`Authorization: Bearer <token>`), for every
/// route or for some [`RouteGroup`]s:
///
/// ```
/// use actor_core::http::{Auth, RouteGroup};
///
/// let everything = Auth::bearer("s3cret-token");
/// let actors_only = Auth::bearer("another-token").only([RouteGroup::Actors]);
/// let operators = Auth::bearer("a-third-token").only([RouteGroup::Admin]);
/// ```
///
/// Several can be given ([`ServerBuilder::auth`](crate::http::ServerBuilder::auth)): a
/// request passes if it presents any token that covers its group; a group no token covers
/// is open. A request that fails gets 401 (`unauthorized`) with the same body whether the
/// header was missing, malformed or held a wrong token. Tokens are compared in constant time
/// (the comparison's duration does not depend on how much of a token matched; a token's
/// length is not treated as secret). A token must be 1 to 4096 visible ASCII characters.
#[derive(Clone)]
pub struct Auth {
    token: Arc<[u8]>,
    groups: Vec<RouteGroup>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("token", &"<redacted>")
            .field("groups", &self.groups)
            .finish()
    }
}

impl Auth {
    /// Requires `token` on every route.
    pub fn bearer(token: impl Into<String>) -> Self {
        Self {
            token: token.into().into_bytes().into(),
            groups: RouteGroup::ALL.to_vec(),
        }
    }

    /// Requires the token only on `groups`.
    #[must_use]
    pub fn only(mut self, groups: impl IntoIterator<Item = RouteGroup>) -> Self {
        self.groups = groups.into_iter().collect();
        self
    }

    /// Refuses a token that no request could present.
    pub(crate) fn check(&self) -> Result<(), ServeError> {
        let visible = self.token.iter().all(|b| (0x21..=0x7e).contains(b));
        if self.token.is_empty() || self.token.len() > MAX_TOKEN_BYTES || !visible {
            return Err(ServeError::BadToken {
                max: MAX_TOKEN_BYTES,
            });
        }
        Ok(())
    }
}

/// The tokens of each group, as the middleware checks them.
#[derive(Debug, Default)]
pub(crate) struct Tokens {
    /// Indexed like [`RouteGroup::ALL`].
    by_group: [Vec<Arc<[u8]>>; RouteGroup::ALL.len()],
    /// Paths served without a token whatever their group: pages that hold no data and send
    /// the token themselves on the calls they make (the inspector's page).
    open: Vec<&'static str>,
}

impl Tokens {
    pub(crate) fn new(auths: &[Auth], open: Vec<&'static str>) -> Self {
        let mut tokens = Self {
            open,
            ..Self::default()
        };
        for auth in auths {
            for group in &auth.groups {
                let list = &mut tokens.by_group[index(*group)];
                if !list.contains(&auth.token) {
                    list.push(Arc::clone(&auth.token));
                }
            }
        }
        tokens
    }

    /// Whether any group needs a token.
    pub(crate) fn any(&self) -> bool {
        self.by_group.iter().any(|list| !list.is_empty())
    }

    /// Whether `group` needs a token.
    pub(crate) fn protects(&self, group: RouteGroup) -> bool {
        !self.by_group[index(group)].is_empty()
    }

    /// Whether `presented` is one of `group`'s tokens. Every token of the group is compared
    /// in full, whatever matched before.
    fn admits(&self, group: RouteGroup, presented: &[u8]) -> bool {
        let mut matched = subtle::Choice::from(0);
        for token in &self.by_group[index(group)] {
            matched |= token.as_ref().ct_eq(presented);
        }
        matched.into()
    }
}

fn index(group: RouteGroup) -> usize {
    match group {
        RouteGroup::Actors => 0,
        RouteGroup::Listing => 1,
        RouteGroup::Worker => 2,
        RouteGroup::Admin => 3,
    }
}

/// The middleware: lets a request through if its group is open or it presents one of the
/// group's tokens; answers 401 otherwise.
pub(crate) async fn require(
    State(tokens): State<Arc<Tokens>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let group = RouteGroup::of(path);
    if !tokens.protects(group) || tokens.open.contains(&path) {
        return next.run(request).await;
    }
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| bearer(value.as_bytes()));
    match presented {
        Some(token) if tokens.admits(group, token) => next.run(request).await,
        _ => Failure::new(
            ErrorKind::Unauthorized,
            "this route needs a valid bearer token (Authorization: Bearer <token>)",
        )
        .into_response(),
    }
}

/// The token of an `Authorization: Bearer <token>` header (the scheme in any case).
fn bearer(header: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = header.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = rest.trim_ascii();
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_fall_into_groups() {
        assert_eq!(RouteGroup::of("/actors"), RouteGroup::Listing);
        assert_eq!(RouteGroup::of("/actors/"), RouteGroup::Actors);
        assert_eq!(RouteGroup::of("/actors/Counter/k/get"), RouteGroup::Actors);
        assert_eq!(RouteGroup::of("/actorsx"), RouteGroup::Worker);
        assert_eq!(RouteGroup::of("/"), RouteGroup::Worker);
        assert_eq!(RouteGroup::of("/get"), RouteGroup::Worker);
        assert_eq!(RouteGroup::of("/metrics"), RouteGroup::Admin);
        assert_eq!(RouteGroup::of("/metrics/x"), RouteGroup::Worker);
        assert_eq!(RouteGroup::of("/admin"), RouteGroup::Admin);
        assert_eq!(RouteGroup::of("/admin/"), RouteGroup::Admin);
        assert_eq!(RouteGroup::of("/admin/api/types"), RouteGroup::Admin);
        assert_eq!(RouteGroup::of("/administrator"), RouteGroup::Worker);
    }

    #[test]
    fn a_bearer_header_yields_its_token() {
        assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"bearer  abc "), Some(&b"abc"[..]));
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(bearer(b"Bearer "), None);
        assert_eq!(bearer(b"Bear"), None);
    }

    #[test]
    fn tokens_admit_only_their_groups() {
        let tokens = Tokens::new(
            &[
                Auth::bearer("all"),
                Auth::bearer("actors").only([RouteGroup::Actors]),
            ],
            Vec::new(),
        );
        assert!(tokens.admits(RouteGroup::Actors, b"actors"));
        assert!(tokens.admits(RouteGroup::Actors, b"all"));
        assert!(!tokens.admits(RouteGroup::Worker, b"actors"));
        assert!(!tokens.admits(RouteGroup::Listing, b"al"));
        assert!(!tokens.admits(RouteGroup::Listing, b"alll"));
        assert!(tokens.admits(RouteGroup::Admin, b"all"));
        assert!(!tokens.admits(RouteGroup::Admin, b"actors"));
        assert!(Auth::bearer("").check().is_err());
        assert!(Auth::bearer("a b").check().is_err());
        assert!(Auth::bearer("ok").check().is_ok());
    }
}
