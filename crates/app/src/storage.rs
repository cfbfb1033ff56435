//! Private media storage (being written).
