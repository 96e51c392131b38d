//! Pagination and sort order (docs/http-contract.md#pagination).

use serde::{Deserialize, Serialize};

/// A validated page request: `page` 1–1 000 000, `page_size` 1–100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageRequest {
    pub page: u32,
    pub page_size: u32,
}

impl PageRequest {
    pub const MAX_PAGE: u32 = 1_000_000;
    pub const MAX_PAGE_SIZE: u32 = 100;

    /// Rows to skip.
    pub fn offset(&self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.page_size)
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self { page: 1, page_size: 10 }
    }
}

/// Sort direction; `desc` is the default everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Order {
    Asc,
    #[default]
    Desc,
}

impl Order {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "asc" => Some(Self::Asc),
            "desc" => Some(Self::Desc),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Asc => "asc",
            Self::Desc => "desc",
        }
    }
    /// The SQL keyword.
    pub fn sql(self) -> &'static str {
        match self {
            Self::Asc => "ASC",
            Self::Desc => "DESC",
        }
    }
}

/// One page of results plus the totals of docs/http-contract.md#pagination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub page: u32,
    pub page_size: u32,
    /// True when the store stopped counting at its cap, so `total` is a lower bound (the
    /// answer carries `total_capped`; docs/http-contract.md#pagination).
    #[serde(default)]
    pub total_capped: bool,
}

impl<T> Paged<T> {
    /// `ceil(total / page_size)`, 0 when there is nothing.
    pub fn total_pages(&self) -> u64 {
        self.total.div_ceil(u64::from(self.page_size.max(1)))
    }
}
