//! xietong-demo (under construction)
