//! Refresh-token rotation as one transaction: its outcomes, and its races with other rotations
//! of the same token, with reuse detection, logout and password change.

use crate::harness::{TestDb, minutes, t0, user};
use taskify_store::{RefreshToken, Rotation};
use uuid::Uuid;

/// A fresh token of `family` (a new family when `parent` is `None`), issued at `now`.
fn token(
    user_id: Uuid,
    family: Option<Uuid>,
    parent: Option<Uuid>,
    now: chrono::DateTime<chrono::Utc>,
) -> RefreshToken {
    let id = Uuid::now_v7();
    RefreshToken {
        id,
        user_id,
        family_id: family.unwrap_or(id),
        parent_id: parent,
        token_hash: format!("{:064x}", Uuid::new_v4().as_u128()),
        access_jti: Some(Uuid::new_v4()),
        access_expires_at: Some(now + minutes(15)),
        issued_at: now,
        expires_at: now + minutes(7 * 24 * 60),
        used_at: None,
        revoked_at: None,
        revoke_reason: None,
        ip_address: None,
        user_agent: None,
    }
}

fn child_of(parent: &RefreshToken, now: chrono::DateTime<chrono::Utc>) -> RefreshToken {
    token(parent.user_id, Some(parent.family_id), Some(parent.id), now)
}

async fn reload(db: &TestDb, t: &RefreshToken) -> RefreshToken {
    db.store.find_refresh_token(&t.token_hash).await.expect("find").expect("row exists")
}

/// Unrevoked rows of the family, if the family holds any revoked row (the invariant: zero).
async fn live_rows_in_revoked_family(db: &TestDb, family: Uuid) -> i64 {
    db.count(&format!(
        "SELECT COUNT(*) FROM refresh_tokens WHERE family_id = '{family}' AND revoked_at IS NULL \
         AND EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family_id = '{family}' AND r.revoked_at IS NOT NULL)"
    ))
    .await
}

store_test!(
    async fn rotation_writes_only_while_parent_and_family_allow_it(db) {
        let me = user(db, "me", None, &["user"]).await;
        let grace = chrono::Duration::seconds(10);
        let root = token(me.id, None, None, t0());
        db.store.insert_refresh_token(&root).await.expect("insert");

        let now = t0() + minutes(1);
        let child = child_of(&root, now);
        assert_eq!(db.store.rotate_refresh_token(&root, &child, now, grace).await.expect("rotate"), Rotation::Rotated);
        assert_eq!(reload(db, &root).await.used_at, Some(now));
        let stored = reload(db, &child).await;
        assert_eq!((stored.parent_id, stored.family_id, stored.used_at), (Some(root.id), root.family_id, None));
        assert_eq!(stored.access_expires_at, child.access_expires_at);

        // Within the grace window a sibling is issued and the first use is kept.
        let sibling = child_of(&root, now + chrono::Duration::seconds(5));
        let at = now + chrono::Duration::seconds(5);
        assert_eq!(db.store.rotate_refresh_token(&root, &sibling, at, grace).await.expect("rotate"), Rotation::Rotated);
        assert_eq!(reload(db, &root).await.used_at, Some(now));

        // Past it (or with the window disabled), a reuse: nothing written.
        let late = child_of(&root, now + minutes(1));
        assert_eq!(db.store.rotate_refresh_token(&root, &late, now + minutes(1), grace).await.expect("rotate"), Rotation::Reused);
        assert_eq!(db.store.rotate_refresh_token(&root, &late, at, chrono::Duration::zero()).await.expect("rotate"), Rotation::Reused);
        assert!(db.store.find_refresh_token(&late.token_hash).await.expect("find").is_none());

        // Expired or unknown parents are invalid.
        let expired = RefreshToken { expires_at: t0() + minutes(2), ..token(me.id, None, None, t0()) };
        db.store.insert_refresh_token(&expired).await.expect("insert");
        let orphan = child_of(&expired, t0() + minutes(3));
        assert_eq!(db.store.rotate_refresh_token(&expired, &orphan, t0() + minutes(3), grace).await.expect("rotate"), Rotation::Invalid);
        let unknown = token(me.id, None, None, t0());
        assert_eq!(db.store.rotate_refresh_token(&unknown, &child_of(&unknown, now), now, grace).await.expect("rotate"), Rotation::Invalid);
        assert_eq!(reload(db, &expired).await.used_at, None);

        // A family with a revoked row takes no child, even from an unrevoked parent.
        db.exec(&format!("UPDATE refresh_tokens SET revoked_at = used_at, revoke_reason = 'logout' WHERE id = '{}'", root.id)).await;
        let grandchild = child_of(&child, now + minutes(2));
        assert_eq!(db.store.rotate_refresh_token(&child, &grandchild, now + minutes(2), grace).await.expect("rotate"), Rotation::Invalid);
        assert_eq!(reload(db, &child).await.used_at, None, "nothing written");
        assert!(db.store.find_refresh_token(&grandchild.token_hash).await.expect("find").is_none());
        // A revoked parent is invalid.
        let again = child_of(&root, now);
        assert_eq!(db.store.rotate_refresh_token(&root, &again, now, grace).await.expect("rotate"), Rotation::Invalid);
    }
);

/// Rotates `parent` `n` times at once, at `now`, and returns the outcomes with their children.
async fn rotate_concurrently(
    db: &TestDb,
    parent: &RefreshToken,
    n: usize,
    now: chrono::DateTime<chrono::Utc>,
    grace: chrono::Duration,
) -> Vec<tokio::task::JoinHandle<(Rotation, RefreshToken)>> {
    (0..n)
        .map(|_| {
            let (store, parent) = (db.store.clone(), parent.clone());
            tokio::spawn(async move {
                let child = child_of(&parent, now);
                let outcome = store.rotate_refresh_token(&parent, &child, now, grace).await.expect("rotate");
                (outcome, child)
            })
        })
        .collect()
}

async fn outcomes(handles: Vec<tokio::task::JoinHandle<(Rotation, RefreshToken)>>) -> Vec<(Rotation, RefreshToken)> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("rotation task"));
    }
    out
}

store_test!(
    async fn fifty_concurrent_rotations_of_one_token_follow_the_grace_rules(db) {
        let me = user(db, "me", None, &["user"]).await;
        let now = t0() + minutes(1);

        // Grace disabled: exactly one rotation wins; every other one is a reuse.
        let root = token(me.id, None, None, t0());
        db.store.insert_refresh_token(&root).await.expect("insert");
        let results = outcomes(rotate_concurrently(db, &root, 50, now, chrono::Duration::zero()).await).await;
        let rotated = results.iter().filter(|(o, _)| *o == Rotation::Rotated).count();
        let reused = results.iter().filter(|(o, _)| *o == Rotation::Reused).count();
        assert_eq!((rotated, reused), (1, 49));
        let children = db.count(&format!("SELECT COUNT(*) FROM refresh_tokens WHERE parent_id = '{}'", root.id)).await;
        assert_eq!(children, 1);

        // Grace window: every rotation succeeds with a sibling, and the first use is kept.
        let root = token(me.id, None, None, t0());
        db.store.insert_refresh_token(&root).await.expect("insert");
        let results = outcomes(rotate_concurrently(db, &root, 50, now, minutes(1)).await).await;
        assert!(results.iter().all(|(o, _)| *o == Rotation::Rotated), "every rotation within the grace window succeeds");
        let children = db.count(&format!("SELECT COUNT(*) FROM refresh_tokens WHERE parent_id = '{}'", root.id)).await;
        assert_eq!(children, 50);
        assert_eq!(reload(db, &root).await.used_at, Some(now));
    }
);

store_test!(
    async fn revocations_racing_rotations_leave_no_live_token_in_a_revoked_family(db) {
        let me = user(db, "me", None, &["user"]).await;
        let now = t0() + minutes(1);
        // Several rounds, because a race only shows when the writes really overlap.
        for round in 0..3 {
            let root = token(me.id, None, None, t0());
            db.store.insert_refresh_token(&root).await.expect("insert");
            let child = child_of(&root, t0());
            assert_eq!(db.store.rotate_refresh_token(&root, &child, t0(), minutes(1)).await.expect("rotate"), Rotation::Rotated);

            // 30 rotations of the child (siblings, within the grace window) race one revocation
            // of the family: reuse detection, logout, or a password change of the user.
            let rotations = rotate_concurrently(db, &child, 30, now, minutes(1)).await;
            let store = db.store.clone();
            let family = root.family_id;
            let revocation = tokio::spawn(async move {
                match round {
                    0 => store.revoke_refresh_family(family, "reuse_detected", now, minutes(15)).await,
                    1 => store.revoke_refresh_family(family, "logout", now, minutes(15)).await,
                    _ => store.change_password(me.id, "new-hash", now, minutes(15)).await,
                }
            });
            let results = outcomes(rotations).await;
            let mut revoked: Vec<Uuid> =
                revocation.await.expect("revocation task").expect("revoke").into_iter().map(|r| r.jti).collect();

            assert_eq!(live_rows_in_revoked_family(db, family).await, 0, "round {round}");
            assert_eq!(
                db.count(&format!("SELECT COUNT(*) FROM refresh_tokens WHERE family_id = '{family}' AND revoked_at IS NULL")).await,
                0,
                "round {round}: the family is wholly revoked"
            );
            // Every access token issued by a rotation that succeeded is revoked too.
            revoked.sort();
            for (outcome, child) in results.iter().filter(|(o, _)| *o == Rotation::Rotated) {
                let jti = child.access_jti.expect("jti");
                assert!(revoked.binary_search(&jti).is_ok(), "round {round}: {outcome:?} child's access token revoked");
                assert!(db.store.is_access_token_revoked(jti).await.expect("check"));
            }
            for (outcome, child) in &results {
                if *outcome != Rotation::Rotated {
                    assert_eq!(*outcome, Rotation::Invalid, "round {round}");
                    assert!(db.store.find_refresh_token(&child.token_hash).await.expect("find").is_none());
                }
            }
        }
    }
);
