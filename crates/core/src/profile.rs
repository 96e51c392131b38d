//! Profile use cases (docs/http-contract.md#profile): the caller's own profile, its allow-listed update with
//! password change, and reading another user's profile.

use crate::access::{Access, Resource};
use crate::auth::{AuthService, TokenPair, required};
use crate::cached::Caching;
use crate::context::RequestContext;
use crate::error::{CoreError, CoreResult, Violations};
use crate::input::{Field, JsonInput};
use crate::tasks::MSG_USER_NOT_FOUND;
use crate::validate;
use taskify_domain::{Principal, User, time};
use taskify_store::{ProfileChanges, Store};
use uuid::Uuid;

const ALLOWED: &[&str] = &["first_name", "last_name", "position", "new_password", "current_password"];

/// A validated `PUT /users/profile` body.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    pub changes: ProfileChanges,
    /// `(current, new)` when the password is to be changed.
    pub password: Option<(String, String)>,
}

impl ProfileUpdate {
    pub fn from_json(mut body: JsonInput) -> CoreResult<Self> {
        let disallowed = body.disallowed(ALLOWED);
        let (first, last, position) = (body.string("first_name"), body.string("last_name"), body.string("position"));
        let (current, new) = (body.string("current_password"), body.string("new_password"));
        body.finish()?;
        if !disallowed.is_empty() {
            return Err(CoreError::Validation(disallowed));
        }
        let mut v = Violations::default();
        let mut changes = ProfileChanges::default();
        let trim = |s: &str| s.trim().to_owned();
        for (field, value, slot) in
            [("first_name", first, &mut changes.first_name), ("last_name", last, &mut changes.last_name)]
        {
            match value {
                Field::Value(raw) => *slot = Some(required(&mut v, field, Some(raw), trim, validate::name_problem)),
                Field::Null => v.add(field, "must not be null"),
                Field::Absent => {}
            }
        }
        if position.is_present() {
            let value = validate::optional_trimmed(position.into_option().as_deref());
            if let Some(p) = &value {
                v.check("position", validate::org_field_problem(p));
            }
            changes.position = Some(value);
        }
        let password = match (current.into_option(), new.into_option()) {
            (None, None) => None,
            (current, new) => {
                let current = required(&mut v, "current_password", current, str::to_owned, |_| None);
                let new = required(&mut v, "new_password", new, str::to_owned, validate::password_problem);
                Some((current, new))
            }
        };
        v.finish(Self { changes, password })
    }
}

/// Profile use cases.
#[derive(Clone)]
pub struct ProfileService {
    store: Store,
    access: Access,
    auth: AuthService,
    caching: Caching,
}

impl ProfileService {
    pub fn new(store: Store, access: Access, auth: AuthService, caching: Caching) -> Self {
        Self { store, access, auth, caching }
    }

    /// A live user, through the cache; deleted or absent users are 404.
    async fn user(&self, id: Uuid) -> CoreResult<User> {
        self.caching.user(&self.store, id).await?.ok_or(CoreError::NotFound(MSG_USER_NOT_FOUND))
    }

    /// `GET /users/profile`: the caller's user and permissions.
    pub async fn own(&self, principal: &Principal, ctx: &RequestContext) -> CoreResult<(User, Vec<String>)> {
        self.access.authorize(principal, "profile:read", Resource::Profile(principal.user_id), ctx, None).await?;
        Ok((self.user(principal.user_id).await?, principal.permission_names()))
    }

    /// `PUT /users/profile`. A password change also returns a new token pair.
    pub async fn update(
        &self,
        principal: &Principal,
        update: ProfileUpdate,
        ctx: &RequestContext,
    ) -> CoreResult<(User, Option<TokenPair>)> {
        self.access.authorize(principal, "profile:update", Resource::Profile(principal.user_id), ctx, None).await?;
        let tokens = match &update.password {
            Some((current, new)) => {
                let me = self.user(principal.user_id).await?;
                Some(self.auth.change_password(principal, &me.email, current, new, ctx).await?)
            }
            None => None,
        };
        let user = self
            .store
            .update_profile(principal.user_id, &update.changes, time::now())
            .await?
            .ok_or(CoreError::NotFound(MSG_USER_NOT_FOUND))?;
        self.caching.principal_changed(principal.user_id, false).await;
        Ok((user, tokens))
    }

    /// `GET /users/profile/{id}`: decided before the lookup, so outsiders cannot probe ids.
    pub async fn of(&self, principal: &Principal, target: Uuid, ctx: &RequestContext) -> CoreResult<User> {
        self.access.authorize(principal, "profile:read", Resource::Profile(target), ctx, None).await?;
        self.user(target).await
    }
}
