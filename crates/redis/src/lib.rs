//! Redis adapter for Rally.
