//! Splitting a layer's quota of neurons over class groups ("water-filling"), as the reference
//! code's `get_split_strategy_` does.
//!
//! Groups are visited from the smallest to the largest (equal sizes: lower class first). Each
//! takes `min(size, remaining_quota / remaining_groups)` (integer division), so a group with
//! fewer candidates than its fair share gives all of them and the shortfall is spread over
//! the larger groups; the remainders of the integer divisions also end up with the largest
//! groups. No group is ever asked for more candidates than it has.
//!
//! Example (the issue's): sizes `[80, 3, 60, 40, 90, 70, 50, 45, 30, 32]`, quota 100 ->
//! `[11, 3, 11, 11, 11, 11, 11, 11, 10, 10]`.

use crate::error::CampaignError;

/// Each group's share of `quota` (see the module text).
///
/// # Errors
/// [`CampaignError::QuotaExceedsCandidates`] if `quota` exceeds the sum of `sizes`.
pub fn split_quota(sizes: &[usize], quota: usize) -> Result<Vec<usize>, CampaignError> {
    let total: usize = sizes.iter().sum();
    if quota > total {
        return Err(CampaignError::QuotaExceedsCandidates {
            quota,
            candidates: total,
        });
    }
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by_key(|&g| (sizes[g], g));
    let mut share = vec![0; sizes.len()];
    let mut left = quota;
    for (done, &g) in order.iter().enumerate() {
        let fair = left / (sizes.len() - done);
        share[g] = sizes[g].min(fair);
        left -= share[g];
    }
    // The last (largest) group took all that was left unless it was too small; then every
    // group is full, which the check above rules out unless the quota was reached anyway.
    debug_assert_eq!(left, 0, "split_quota: {quota} over {sizes:?}");
    Ok(share)
}
