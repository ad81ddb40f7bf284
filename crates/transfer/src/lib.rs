//! xietong-transfer (under construction)
