//! `sqlx::migrate!` embeds the migration files at compile time, but on stable Rust a proc macro
//! cannot tell Cargo to watch them: without this, editing a migration would not rebuild the crate.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
