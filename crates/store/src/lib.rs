//! xietong-store (under construction)
