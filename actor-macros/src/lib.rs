//! Procedural macros for `actor-core`.
//!
//! This crate holds macros only; everything they expand to lives in `actor-core` under the
//! hidden `actor_core::__private` path. The derives (`#[derive(Actor)]`, `#[actions]`) are
//! not written yet: until they are, implement `actor_core::Actor` by hand (see the crate docs
//! of `actor-core` and `docs/actors-and-state.md`).
