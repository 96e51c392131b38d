//! Refresh-token families and revoked access tokens.

use crate::harness::{minutes, t0, user};
use taskify_store::{AdminWrite, RefreshToken, RevokedJti, StoreError, UniqueViolation};
use uuid::Uuid;

fn token(user_id: Uuid, family: Uuid, parent: Option<Uuid>, issued_minutes: i64) -> RefreshToken {
    let issued_at = t0() + minutes(issued_minutes);
    RefreshToken {
        id: Uuid::now_v7(),
        user_id,
        family_id: family,
        parent_id: parent,
        token_hash: format!("{:064x}", Uuid::new_v4().as_u128()),
        access_jti: Some(Uuid::new_v4()),
        access_expires_at: Some(issued_at + minutes(15)),
        issued_at,
        expires_at: issued_at + minutes(7 * 24 * 60),
        used_at: None,
        revoked_at: None,
        revoke_reason: None,
        ip_address: Some("2001:db8::1".to_owned()),
        user_agent: Some("tests".to_owned()),
    }
}

store_test!(
    async fn revoking_a_family_returns_the_unexpired_access_jtis(db) {
        let me = user(db, "me", None, &["user"]).await;
        let first = token(me.id, Uuid::nil(), None, 0);
        let used_at = t0() + minutes(21);
        let first = RefreshToken { family_id: first.id, used_at: Some(used_at), ..first };
        let second = token(me.id, first.family_id, Some(first.id), 20);
        let third = token(me.id, first.family_id, Some(second.id), 30);
        let other_family = token(me.id, Uuid::now_v7(), None, 30);
        for t in [&first, &second, &third, &other_family] {
            db.store.insert_refresh_token(t).await.expect("insert");
        }
        let duplicate = RefreshToken { id: Uuid::now_v7(), ..second.clone() };
        let err = db.store.insert_refresh_token(&duplicate).await.expect_err("duplicate hash");
        assert!(matches!(err, StoreError::Conflict(UniqueViolation::Other)), "{err:?}");
        let found = db.store.find_refresh_token(&second.token_hash).await.expect("find").expect("exists");
        assert_eq!(found, second);
        assert!(db.store.find_refresh_token("nope").await.expect("find").is_none());


        // At t0+40 with a 15-minute access TTL, only the token issued at t0+30 is still live.
        let now = t0() + minutes(40);
        let revoked = db.store.revoke_refresh_family(first.family_id, "reuse_detected", now, minutes(15)).await.expect("revoke");
        let live_jti = third.access_jti.expect("jti");
        assert_eq!(
            revoked,
            [RevokedJti { jti: live_jti, user_id: me.id, expires_at: third.issued_at + minutes(15) }]
        );
        assert!(db.store.is_access_token_revoked(live_jti).await.expect("check"));
        assert!(!db.store.is_access_token_revoked(first.access_jti.expect("jti")).await.expect("check"));
        let reloaded = db.store.find_refresh_token(&first.token_hash).await.expect("find").expect("exists");
        assert_eq!((reloaded.revoked_at, reloaded.revoke_reason.as_deref(), reloaded.used_at), (Some(now), Some("reuse_detected"), Some(used_at)));
        let untouched = db.store.find_refresh_token(&other_family.token_hash).await.expect("find").expect("exists");
        assert!(untouched.revoked_at.is_none());

        // Revoking again is harmless and still reports the live jti.
        let again = db.store.revoke_refresh_family(first.family_id, "logout", now, minutes(15)).await.expect("revoke");
        assert_eq!(again.len(), 1);
        let reloaded = db.store.find_refresh_token(&first.token_hash).await.expect("find").expect("exists");
        assert_eq!(reloaded.revoke_reason.as_deref(), Some("reuse_detected"));

        let single = RevokedJti { jti: Uuid::new_v4(), user_id: me.id, expires_at: now + minutes(5) };
        db.store.revoke_access_token(&single, now).await.expect("revoke one");
        db.store.revoke_access_token(&single, now).await.expect("revoke one again");
        assert!(db.store.is_access_token_revoked(single.jti).await.expect("check"));

        // Housekeeping drops revoked access tokens once expired, refresh tokens a day after expiry.
        let report = db.store.housekeeping(now + minutes(20), None).await.expect("housekeeping");
        assert_eq!((report.revoked_access_tokens, report.refresh_tokens), (2, 0));
        let report = db.store.housekeeping(t0() + minutes(9 * 24 * 60), None).await.expect("housekeeping");
        assert_eq!(report.refresh_tokens, 4);
    }
);

store_test!(
    async fn password_change_and_deletion_revoke_every_session(db) {
        user(db, "admin", None, &["user", "admin"]).await;
        let me = user(db, "me", None, &["user"]).await;
        let a = token(me.id, Uuid::now_v7(), None, 0);
        let b = token(me.id, Uuid::now_v7(), None, 10);
        let mut logged_out = token(me.id, Uuid::now_v7(), None, 10);
        logged_out.revoked_at = Some(t0() + minutes(11));
        logged_out.revoke_reason = Some("logout".to_owned());
        for t in [&a, &b, &logged_out] {
            db.store.insert_refresh_token(t).await.expect("insert");
        }
        let now = t0() + minutes(12);
        let revoked = db.store.change_password(me.id, "new", now, minutes(15)).await.expect("change");
        let mut jtis: Vec<Uuid> = revoked.iter().map(|r| r.jti).collect();
        jtis.sort();
        let mut expected = vec![a.access_jti.expect("jti"), b.access_jti.expect("jti")];
        expected.sort();
        assert_eq!(jtis, expected);
        let b_row = db.store.find_refresh_token(&b.token_hash).await.expect("find").expect("row");
        assert_eq!(b_row.revoke_reason.as_deref(), Some("password_change"));
        let lo_row = db.store.find_refresh_token(&logged_out.token_hash).await.expect("find").expect("row");
        assert_eq!(lo_row.revoke_reason.as_deref(), Some("logout"));

        let c = token(me.id, Uuid::now_v7(), None, 13);
        db.store.insert_refresh_token(&c).await.expect("insert");
        match db.store.soft_delete_user(me.id, now + minutes(2), minutes(15)).await.expect("delete") {
            AdminWrite::Done(revoked) => assert_eq!(revoked.iter().map(|r| r.jti).collect::<Vec<_>>(), [c.access_jti.expect("jti")]),
            other => panic!("expected Done, got {other:?}"),
        }
        let c_row = db.store.find_refresh_token(&c.token_hash).await.expect("find").expect("row");
        assert_eq!(c_row.revoke_reason.as_deref(), Some("user_deleted"));
        let principal = db.store.load_principal(me.id, now).await.expect("load").expect("principal");
        assert!(principal.deleted && !principal.active);
    }
);

store_test!(
    async fn access_tokens_issued_under_a_longer_ttl_stay_revoked_until_their_own_expiry(db) {
        let me = user(db, "me", None, &["user"]).await;
        // Issued at t0 while ACCESS_TOKEN_TTL was 60 min; revoked at t0+30 after it was lowered
        // to 15 min. The access token lives until t0+60, so its revocation must too.
        let long = token(me.id, Uuid::nil(), None, 0);
        let long = RefreshToken {
            family_id: long.id,
            access_expires_at: Some(long.issued_at + minutes(60)),
            ..long
        };
        // A row written without a stored expiry falls back to the current TTL.
        let legacy = RefreshToken { access_expires_at: None, ..token(me.id, Uuid::now_v7(), None, 20) };
        for t in [&long, &legacy] {
            db.store.insert_refresh_token(t).await.expect("insert");
        }
        let now = t0() + minutes(30);
        let revoked = db.store.revoke_refresh_family(long.family_id, "logout", now, minutes(15)).await.expect("revoke");
        let jti = long.access_jti.expect("jti");
        assert_eq!(revoked, [RevokedJti { jti, user_id: me.id, expires_at: t0() + minutes(60) }]);
        assert!(db.store.is_access_token_revoked(jti).await.expect("check"));
        // Housekeeping keeps the entry while the token can still be presented.
        db.store.housekeeping(t0() + minutes(59), None).await.expect("housekeeping");
        assert!(db.store.is_access_token_revoked(jti).await.expect("check"));
        db.store.housekeeping(t0() + minutes(61), None).await.expect("housekeeping");
        assert!(!db.store.is_access_token_revoked(jti).await.expect("check"));

        let revoked = db.store.change_password(me.id, "new", now, minutes(15)).await.expect("change");
        let legacy_jti = legacy.access_jti.expect("jti");
        assert_eq!(revoked, [RevokedJti { jti: legacy_jti, user_id: me.id, expires_at: legacy.issued_at + minutes(15) }]);
    }
);
