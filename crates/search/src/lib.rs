//! xietong-search (under construction)
