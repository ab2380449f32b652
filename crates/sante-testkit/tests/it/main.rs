//! The one integration-test binary of the testkit: see `tests/README.md`.

mod portal;
