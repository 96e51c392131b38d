//! Audit log entries (SPEC §2.2, §3.6).

use crate::page::{Order, PageRequest};
use crate::time::{Timestamp, serde_micros};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allowed,
    Denied,
}

impl Decision {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "allowed" => Some(Self::Allowed),
            "denied" => Some(Self::Denied),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Denied => "denied",
        }
    }
}

/// One audit row, as written and as `GET /audit-logs` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: Uuid,
    #[serde(with = "serde_micros")]
    pub timestamp: Timestamp,
    pub user_id: Option<Uuid>,
    /// `resource:action`, e.g. `task:update` or `auth:login`.
    pub action: String,
    pub resource: String,
    pub resource_id: Option<String>,
    pub decision: Decision,
    pub reason: Option<String>,
    /// Sorted ids of the deciding policies.
    pub policy_ids: Vec<String>,
    pub request_id: Option<String>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub context: Option<serde_json::Value>,
}

/// An entry before it has been written; the same shape.
pub type NewAuditEntry = AuditEntry;

/// A validated `GET /audit-logs` query. `from` is inclusive, `to` exclusive.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditQuery {
    pub user_id: Option<Uuid>,
    pub resource: Option<String>,
    pub action: Option<String>,
    pub decision: Option<Decision>,
    pub from: Timestamp,
    pub to: Option<Timestamp>,
    pub order: Order,
    pub page: PageRequest,
}

/// `total` stops counting here (SPEC §1.5).
pub const AUDIT_TOTAL_CAP: u64 = 10_000;
