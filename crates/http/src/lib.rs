//! xietong-http (under construction)
