//! Streaming WXR reader (being written).
