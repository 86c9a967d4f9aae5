//! WordPress HTML to Markdown (being written).
