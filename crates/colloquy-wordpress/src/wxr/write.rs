//! WXR 1.2 writer (being written).
