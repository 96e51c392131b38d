//! Users: uniqueness, principals, the admin operations and the last-admin rule.

use crate::harness::{attribute, minutes, new_user, number, t0, user};
use taskify_domain::{AttributeValue, Order, PageRequest, Scope, UserListQuery, UserSort};
use taskify_store::{
    AdminWrite, AssignOutcome, NewAttribute, ProfileChanges, RevokeOutcome, StoreError, UniqueViolation, UserPatch,
};
use uuid::Uuid;

store_test!(
    async fn duplicate_email_or_username_is_a_conflict_ignoring_ascii_case(db) {
        user(db, "Alice", None, &["user"]).await;

        let mut same_email = new_user("someone_else", None);
        same_email.email = "ALICE@Example.com".to_owned();
        let err = db.store.create_user(&same_email, &["user"], &[]).await.expect_err("email taken");
        assert!(matches!(err, StoreError::Conflict(UniqueViolation::Email)), "{err:?}");

        let mut same_username = new_user("aLiCe", None);
        same_username.email = "other@example.com".to_owned();
        let err = db.store.create_user(&same_username, &["user"], &[]).await.expect_err("username taken");
        assert!(matches!(err, StoreError::Conflict(UniqueViolation::Username)), "{err:?}");

        // Both taken: email is reported first.
        let both = new_user("ALICE", None);
        let err = db.store.create_user(&both, &["user"], &[]).await.expect_err("both taken");
        assert!(matches!(err, StoreError::Conflict(UniqueViolation::Email)), "{err:?}");

        assert_eq!(
            db.store.find_taken("alice@EXAMPLE.com", "nobody").await.expect("find"),
            Some(UniqueViolation::Email)
        );
        assert_eq!(
            db.store.find_taken("nobody@example.com", "ALICE").await.expect("find"),
            Some(UniqueViolation::Username)
        );
        assert_eq!(db.store.find_taken("nobody@example.com", "nobody").await.expect("find"), None);
        // Only ASCII folds: a non-ASCII look-alike is another name.
        assert_eq!(db.store.find_taken("x@example.com", "ÀLICE").await.expect("find"), None);
    }
);

store_test!(
    async fn deleted_users_keep_their_email_and_username_reserved(db) {
        user(db, "admin", None, &["user", "admin"]).await;
        let bob = user(db, "bob", None, &["user"]).await;
        let deleted = db.store.soft_delete_user(bob.id, t0(), minutes(15)).await.expect("delete");
        assert!(matches!(deleted, AdminWrite::Done(_)));
        assert_eq!(
            db.store.find_taken("bob@example.com", "x").await.expect("find"),
            Some(UniqueViolation::Email)
        );
        let creds = db.store.credentials_by_email("BOB@example.com").await.expect("creds").expect("row");
        assert!(creds.deleted && !creds.is_active);
        let again = db.store.soft_delete_user(bob.id, t0(), minutes(15)).await.expect("delete again");
        assert!(matches!(again, AdminWrite::NotFound));
    }
);

store_test!(
    async fn created_users_come_back_with_roles_and_attributes(db) {
        let attrs = vec![
            NewAttribute { source: "registration".to_owned(), ..attribute("clearance_level", number(1)) },
            NewAttribute {
                source: "registration".to_owned(),
                ..attribute("account_type", AttributeValue::String("standard".to_owned()))
            },
        ];
        let created = db
            .store
            .create_user(&new_user("carol", Some("Engineering")), &["user", "admin"], &attrs)
            .await
            .expect("create");
        assert_eq!(created.roles, ["admin", "user"]);
        assert_eq!(created.role, "admin");

        let fetched = db.store.get_user(created.id, t0(), false).await.expect("get").expect("exists");
        assert_eq!(fetched, created);
        let with = db.store.get_user(created.id, t0(), true).await.expect("get").expect("exists");
        let assignments = with.role_assignments.expect("assignments asked for");
        assert_eq!(assignments.iter().map(|a| a.role.as_str()).collect::<Vec<_>>(), ["admin", "user"]);
        assert!(assignments.iter().all(|a| a.assigned_at == t0() && a.assigned_by.is_none()));

        let keys: Vec<String> = db
            .store
            .list_attributes(taskify_store::AttributeOwner::User(created.id), t0())
            .await
            .expect("attributes")
            .into_iter()
            .map(|a| a.key)
            .collect();
        assert_eq!(keys, ["account_type", "clearance_level"]);
        assert!(db.store.get_user(Uuid::now_v7(), t0(), false).await.expect("get").is_none());
    }
);

store_test!(
    async fn principal_leaves_out_expired_roles_and_attributes(db) {
        let dave = user(db, "dave", Some("  Sales Team "), &["user"]).await;
        let expires = t0() + minutes(60);
        let assigned = db
            .store
            .assign_role(dave.id, "manager", Some(expires), None, t0())
            .await
            .expect("assign");
        assert!(matches!(assigned, AssignOutcome::Assigned(_)));
        db.store
            .put_attribute(
                taskify_store::AttributeOwner::User(dave.id),
                &NewAttribute { expires_at: Some(t0() + minutes(30)), ..attribute("clearance_level", number(3)) },
                t0(),
            )
            .await
            .expect("attribute");

        let now = db.store.load_principal(dave.id, t0()).await.expect("load").expect("exists");
        assert_eq!(now.department, "sales team");
        assert_eq!(now.role_names(), ["manager", "user"]);
        assert!(now.holds_at("task:read", Scope::Department));
        assert_eq!(now.clearance_level(), 3);
        assert_eq!(now.valid_until(), Some(t0() + minutes(30)));
        assert!(now.grants.windows(2).all(|w| w[0] < w[1]), "grants sorted and distinct");
        assert_eq!(now.grants.len(), 7);
        assert!(now.active && !now.deleted && now.tokens_valid_after.is_none());

        let later = db.store.load_principal(dave.id, t0() + minutes(90)).await.expect("load").expect("exists");
        assert_eq!(later.role_names(), ["user"]);
        assert!(!later.holds_at("task:read", Scope::Department));
        assert_eq!(later.grants.len(), 6);
        assert!(later.attributes.is_empty());
        assert_eq!(later.clearance_level(), 0);

        let fetched = db.store.get_user(dave.id, t0() + minutes(90), false).await.expect("get").expect("user");
        assert_eq!(fetched.roles, ["user"]);
        assert!(db.store.load_principal(Uuid::now_v7(), t0()).await.expect("load").is_none());
    }
);

store_test!(
    async fn the_last_active_admin_is_protected(db) {
        let ann = user(db, "ann", None, &["user", "admin"]).await;
        let joe = user(db, "joe", None, &["user"]).await;
        let now = t0();
        assert!(db.store.has_active_admin(now).await.expect("has admin"));

        let deactivate = UserPatch { is_active: Some(false), ..Default::default() };
        assert!(matches!(db.store.patch_user(ann.id, &deactivate, now).await.expect("patch"), AdminWrite::LastAdmin));
        assert!(matches!(
            db.store.soft_delete_user(ann.id, now, minutes(15)).await.expect("delete"),
            AdminWrite::LastAdmin
        ));
        assert_eq!(db.store.revoke_role(ann.id, "admin", None, now).await.expect("revoke"), RevokeOutcome::LastAdmin);
        // Other writes on the last admin and writes on non-admins are fine.
        let rename = UserPatch { department: Some(Some("Ops".to_owned())), ..Default::default() };
        assert!(matches!(db.store.patch_user(ann.id, &rename, now).await.expect("patch"), AdminWrite::Done(_)));
        assert!(matches!(db.store.patch_user(joe.id, &deactivate, now).await.expect("patch"), AdminWrite::Done(_)));

        // With a second admin, the first may go; then the second is the last one.
        assert!(matches!(
            db.store.assign_role(joe.id, "admin", None, Some(ann.id), now).await.expect("assign"),
            AssignOutcome::Assigned(_)
        ));
        let activate = UserPatch { is_active: Some(true), ..Default::default() };
        assert!(matches!(db.store.patch_user(joe.id, &activate, now).await.expect("patch"), AdminWrite::Done(_)));
        assert_eq!(db.store.revoke_role(ann.id, "admin", Some(joe.id), now).await.expect("revoke"), RevokeOutcome::Revoked);
        assert!(matches!(db.store.patch_user(joe.id, &deactivate, now).await.expect("patch"), AdminWrite::LastAdmin));

        // An admin whose assignment expired does not count, and neither does a time-limited one
        // that is still active: it would lapse and leave no admin.
        let expiring = user(db, "eve", None, &["user"]).await;
        db.store.assign_role(expiring.id, "admin", Some(now + minutes(5)), None, now).await.expect("assign");
        let later = now + minutes(10);
        assert!(matches!(db.store.soft_delete_user(joe.id, later, minutes(15)).await.expect("delete"), AdminWrite::LastAdmin));
        assert!(matches!(db.store.soft_delete_user(joe.id, now, minutes(15)).await.expect("delete"), AdminWrite::LastAdmin));
        assert!(matches!(db.store.patch_user(joe.id, &deactivate, now).await.expect("patch"), AdminWrite::LastAdmin));
        assert_eq!(db.store.revoke_role(joe.id, "admin", None, now).await.expect("revoke"), RevokeOutcome::LastAdmin);
        // The time-limited admin may go: the permanent one stays.
        assert_eq!(db.store.revoke_role(expiring.id, "admin", None, now).await.expect("revoke"), RevokeOutcome::Revoked);
        assert!(db.store.has_active_admin(later).await.expect("has admin"));
    }
);

store_test!(
    async fn two_admins_deactivating_each_other_at_once_leave_one(db) {
        let a = user(db, "admin_a", None, &["user", "admin"]).await;
        let b = user(db, "admin_b", None, &["user", "admin"]).await;
        let deactivate = UserPatch { is_active: Some(false), ..Default::default() };
        let activate = UserPatch { is_active: Some(true), ..Default::default() };
        // Several rounds, because a race only shows when both writes really overlap.
        for _ in 0..5 {
            let (sa, sb) = (db.store.clone(), db.store.clone());
            let (pa, pb) = (deactivate.clone(), deactivate.clone());
            let ta = tokio::spawn(async move { sa.patch_user(a.id, &pa, t0()).await });
            let tb = tokio::spawn(async move { sb.patch_user(b.id, &pb, t0()).await });
            let ra = ta.await.expect("task a").expect("patch a");
            let rb = tb.await.expect("task b").expect("patch b");
            let done = [&ra, &rb].iter().filter(|r| matches!(r, AdminWrite::Done(_))).count();
            let refused = [&ra, &rb].iter().filter(|r| matches!(r, AdminWrite::LastAdmin)).count();
            assert_eq!((done, refused), (1, 1));
            assert!(db.store.has_active_admin(t0()).await.expect("has admin"));
            for id in [a.id, b.id] {
                db.store.patch_user(id, &activate, t0()).await.expect("reactivate");
            }
        }
    }
);

store_test!(
    async fn role_assignment_outcomes(db) {
        let ivy = user(db, "ivy", None, &["user"]).await;
        let now = t0();
        assert!(matches!(
            db.store.assign_role(Uuid::now_v7(), "manager", None, None, now).await.expect("assign"),
            AssignOutcome::UserNotFound
        ));
        assert!(matches!(
            db.store.assign_role(ivy.id, "wizard", None, None, now).await.expect("assign"),
            AssignOutcome::UnknownRole
        ));
        assert!(matches!(
            db.store.assign_role(ivy.id, "user", None, None, now).await.expect("assign"),
            AssignOutcome::AlreadyAssigned
        ));

        // An expired, unrevoked assignment is renewed in place.
        let first = db.store.assign_role(ivy.id, "manager", Some(now + minutes(5)), None, now).await.expect("assign");
        assert!(matches!(first, AssignOutcome::Assigned(_)));
        let later = now + minutes(10);
        match db.store.assign_role(ivy.id, "manager", None, Some(ivy.id), later).await.expect("assign") {
            AssignOutcome::Assigned(a) => {
                assert_eq!((a.role.as_str(), a.assigned_at, a.expires_at), ("manager", later, None));
            }
            other => panic!("expected Assigned, got {other:?}"),
        }
        assert_eq!(db.count("SELECT COUNT(*) FROM user_roles").await, 2);
        let fetched = db.store.get_user(ivy.id, later, true).await.expect("get").expect("user");
        assert_eq!(fetched.roles, ["manager", "user"]);
        let manager = fetched.role_assignments.expect("assignments").into_iter().find(|a| a.role == "manager").expect("manager");
        assert_eq!(manager.assigned_by, Some(ivy.id));

        assert_eq!(db.store.revoke_role(ivy.id, "manager", None, later).await.expect("revoke"), RevokeOutcome::Revoked);
        assert_eq!(db.store.revoke_role(ivy.id, "manager", None, later).await.expect("revoke"), RevokeOutcome::NotAssigned);
        assert_eq!(db.store.revoke_role(ivy.id, "wizard", None, later).await.expect("revoke"), RevokeOutcome::UnknownRole);
        assert_eq!(
            db.store.revoke_role(Uuid::now_v7(), "manager", None, later).await.expect("revoke"),
            RevokeOutcome::UserNotFound
        );
        // After a revocation the role can be assigned again (a new row).
        assert!(matches!(
            db.store.assign_role(ivy.id, "manager", None, None, later).await.expect("assign"),
            AssignOutcome::Assigned(_)
        ));
    }
);

store_test!(
    async fn list_users_filters_sorts_and_pages(db) {
        let admin = user(db, "Zed_admin", Some("Ops"), &["user", "admin"]).await;
        let a = user(db, "amy", Some(" engineering "), &["user"]).await;
        let b = user(db, "Ben", Some("ENGINEERING"), &["user", "manager"]).await;
        let c = user(db, "cy_100%", None, &["user"]).await;
        let gone = user(db, "gone", Some("engineering"), &["user", "admin"]).await;
        db.store.soft_delete_user(gone.id, t0(), minutes(15)).await.expect("delete");
        db.store.record_login(b.id, t0() + minutes(1)).await.expect("login");
        db.store.record_login(a.id, t0() + minutes(2)).await.expect("login");
        let inactive = UserPatch { is_active: Some(false), ..Default::default() };
        db.store.patch_user(c.id, &inactive, t0()).await.expect("patch");

        let list = |q: UserListQuery| async move { db.store.list_users(&q, t0()).await.expect("list") };
        let names = |page: &taskify_domain::Paged<taskify_domain::User>| {
            page.items.iter().map(|u| u.username.clone()).collect::<Vec<_>>()
        };

        let all = list(UserListQuery { sort_by: UserSort::Username, order: Order::Asc, ..Default::default() }).await;
        assert_eq!(names(&all), ["amy", "Ben", "cy_100%", "Zed_admin"]);
        assert_eq!(all.total, 4);
        assert!(all.items.iter().all(|u| u.role_assignments.is_some()));
        assert_eq!(all.items[1].roles, ["manager", "user"]);

        let engineering = list(UserListQuery { department: Some("Engineering ".to_owned()), ..Default::default() }).await;
        assert_eq!(engineering.total, 2);

        let pct = list(UserListQuery { q: Some("_100%".to_owned()), ..Default::default() }).await;
        assert_eq!(names(&pct), ["cy_100%"]);
        let underscore_is_literal = list(UserListQuery { q: Some("y_1".to_owned()), ..Default::default() }).await;
        assert_eq!(underscore_is_literal.total, 1);
        let percent_is_literal = list(UserListQuery { q: Some("c%0".to_owned()), ..Default::default() }).await;
        assert_eq!(percent_is_literal.total, 0);
        let by_email = list(UserListQuery { q: Some("BEN@EXAMPLE".to_owned()), ..Default::default() }).await;
        assert_eq!(names(&by_email), ["Ben"]);

        let managers = list(UserListQuery { role: Some("manager".to_owned()), ..Default::default() }).await;
        assert_eq!(names(&managers), ["Ben"]);
        let admins = list(UserListQuery { role: Some("admin".to_owned()), ..Default::default() }).await;
        assert_eq!(names(&admins), ["Zed_admin"]);
        let inactive_users = list(UserListQuery { is_active: Some(false), ..Default::default() }).await;
        assert_eq!(names(&inactive_users), ["cy_100%"]);

        // Users without a login come last in both orders; equal values fall back to id.
        let desc = list(UserListQuery { sort_by: UserSort::LastLoginAt, order: Order::Desc, ..Default::default() }).await;
        assert_eq!(names(&desc)[..2], ["amy", "Ben"]);
        let asc = list(UserListQuery { sort_by: UserSort::LastLoginAt, order: Order::Asc, ..Default::default() }).await;
        assert_eq!(names(&asc)[..2], ["Ben", "amy"]);
        let mut rest_ids = vec![admin.id, c.id];
        rest_ids.sort();
        assert_eq!(asc.items[2..].iter().map(|u| u.id).collect::<Vec<_>>(), rest_ids);

        let page2 = list(UserListQuery {
            sort_by: UserSort::Email,
            order: Order::Asc,
            page: PageRequest { page: 2, page_size: 3 },
            ..Default::default()
        })
        .await;
        assert_eq!((page2.total, page2.items.len()), (4, 1));
        assert_eq!(names(&page2), ["Zed_admin"]);
    }
);

store_test!(
    async fn profile_and_password_changes(db) {
        let kim = user(db, "kim", None, &["user"]).await;
        let later = t0() + minutes(1);
        let changes = ProfileChanges {
            first_name: Some("Kimberly".to_owned()),
            position: Some(Some("Lead".to_owned())),
            ..Default::default()
        };
        let updated = db.store.update_profile(kim.id, &changes, later).await.expect("update").expect("user");
        assert_eq!((updated.first_name.as_str(), updated.position.as_deref()), ("Kimberly", Some("Lead")));
        assert_eq!(updated.updated_at, later);
        let cleared = ProfileChanges { position: Some(None), ..Default::default() };
        let updated = db.store.update_profile(kim.id, &cleared, later).await.expect("update").expect("user");
        assert_eq!(updated.position, None);
        assert!(db.store.update_profile(Uuid::now_v7(), &cleared, later).await.expect("update").is_none());

        let verified = db.store.password_hash(kim.id).await.expect("hash").expect("a hash");
        assert!(db.store.set_password_hash(kim.id, &verified, "rehashed").await.expect("rehash"));
        assert_eq!(db.store.password_hash(kim.id).await.expect("hash").as_deref(), Some("rehashed"));

        let revoked = db.store.change_password(kim.id, "new-hash", later, minutes(15)).await.expect("change");
        assert!(revoked.is_empty());
        assert_eq!(db.store.password_hash(kim.id).await.expect("hash").as_deref(), Some("new-hash"));
        // A login that verified the old hash before this change must not write its rehash over it.
        assert!(!db.store.set_password_hash(kim.id, "rehashed", "rehash-of-old").await.expect("stale rehash"));
        assert_eq!(db.store.password_hash(kim.id).await.expect("hash").as_deref(), Some("new-hash"));
        let principal = db.store.load_principal(kim.id, later).await.expect("load").expect("principal");
        assert_eq!(principal.tokens_valid_after, Some(later));
    }
);
