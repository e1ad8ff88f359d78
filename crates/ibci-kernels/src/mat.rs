//! Row-major f32 matrices: an owned [`Mat`] and borrowed views [`MatRef`] / [`MatMut`].
//!
//! A view is `rows x cols` elements at `ptr + i*rs + j*cs` (strides in elements, not bytes).
//! A row-major matrix has `rs = cols, cs = 1`; [`MatRef::t`] swaps the two, so a transposed
//! operand is a view, never a copy. Views are checked once, when they are made from a slice:
//! every element they reach lies inside the slice, and a mutable view reaches no element
//! twice. Kernels then trust them.

use std::marker::PhantomData;

/// An owned, contiguous, row-major f32 matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct Mat {
    data: Vec<f32>,
    rows: usize,
    cols: usize,
}

impl Mat {
    /// A `rows x cols` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Mat {
        Mat::filled(rows, cols, 0.0)
    }

    /// A `rows x cols` matrix with every element `value`.
    pub fn filled(rows: usize, cols: usize, value: f32) -> Mat {
        let n = rows
            .checked_mul(cols)
            .expect("Mat: rows * cols overflows usize");
        Mat {
            data: vec![value; n],
            rows,
            cols,
        }
    }

    /// Wraps row-major `data`.
    ///
    /// # Panics
    /// If `data.len() != rows * cols`.
    #[track_caller]
    pub fn from_vec(rows: usize, cols: usize, data: Vec<f32>) -> Mat {
        assert_eq!(
            Some(data.len()),
            rows.checked_mul(cols),
            "Mat::from_vec: {rows} x {cols} needs {} elements, got {}",
            rows.saturating_mul(cols),
            data.len()
        );
        Mat { data, rows, cols }
    }

    /// A matrix whose element `(i, j)` is `f(i, j)`.
    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> f32) -> Mat {
        let mut m = Mat::zeros(rows, cols);
        for i in 0..rows {
            for j in 0..cols {
                m.data[i * cols + j] = f(i, j);
            }
        }
        m
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The elements, row-major.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// The elements, row-major, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Consumes the matrix, returning its row-major elements.
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    /// Element `(i, j)`.
    ///
    /// # Panics
    /// If `i >= rows` or `j >= cols`.
    #[track_caller]
    pub fn at(&self, i: usize, j: usize) -> f32 {
        assert!(
            i < self.rows && j < self.cols,
            "Mat::at: ({i}, {j}) out of {} x {}",
            self.rows,
            self.cols
        );
        self.data[i * self.cols + j]
    }

    /// A borrowed view.
    pub fn as_ref(&self) -> MatRef<'_> {
        MatRef::from_slice(&self.data, self.rows, self.cols)
    }

    /// A mutable borrowed view.
    pub fn as_mut(&mut self) -> MatMut<'_> {
        let (r, c) = (self.rows, self.cols);
        MatMut::from_slice(&mut self.data, r, c)
    }
}

/// Highest element offset a view reaches, or `None` for an empty view.
fn max_offset(rows: usize, cols: usize, rs: usize, cs: usize) -> Option<usize> {
    if rows == 0 || cols == 0 {
        return None;
    }
    (rows - 1)
        .checked_mul(rs)
        .and_then(|a| (cols - 1).checked_mul(cs).and_then(|b| a.checked_add(b)))
        .or(Some(usize::MAX))
}

#[track_caller]
fn check_view(len: usize, rows: usize, cols: usize, rs: usize, cs: usize, what: &str) {
    if let Some(max) = max_offset(rows, cols, rs, cs) {
        assert!(
            max < len,
            "{what}: a {rows} x {cols} view with strides ({rs}, {cs}) reaches element {max}, \
             but the slice has {len}"
        );
    }
}

/// The shape accessors of the two views (`rows`, `cols`, `row_stride`, `col_stride`),
/// written once.
macro_rules! shape_accessors {
    () => {
        /// Number of rows.
        pub fn rows(&self) -> usize {
            self.rows
        }

        /// Number of columns.
        pub fn cols(&self) -> usize {
            self.cols
        }

        /// Row stride (elements).
        pub fn row_stride(&self) -> usize {
            self.rs
        }

        /// Column stride (elements).
        pub fn col_stride(&self) -> usize {
            self.cs
        }
    };
}

/// A borrowed, possibly strided, read-only f32 matrix view.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    ptr: *const f32,
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
    _life: PhantomData<&'a f32>,
}

// SAFETY: a MatRef is a shared borrow of f32s (Sync), so sending or sharing it is as safe as
// sending or sharing `&[f32]`.
unsafe impl Send for MatRef<'_> {}
// SAFETY: as above.
unsafe impl Sync for MatRef<'_> {}

impl<'a> MatRef<'a> {
    /// A contiguous row-major view of `data`.
    ///
    /// # Panics
    /// If `data.len() != rows * cols`.
    #[track_caller]
    pub fn from_slice(data: &'a [f32], rows: usize, cols: usize) -> MatRef<'a> {
        assert_eq!(
            Some(data.len()),
            rows.checked_mul(cols),
            "MatRef::from_slice: {rows} x {cols} needs {} elements, got {}",
            rows.saturating_mul(cols),
            data.len()
        );
        MatRef::from_slice_strided(data, rows, cols, cols, 1)
    }

    /// A strided view: element `(i, j)` is `data[i*rs + j*cs]`.
    ///
    /// # Panics
    /// If some element of the view lies outside `data`.
    #[track_caller]
    pub fn from_slice_strided(
        data: &'a [f32],
        rows: usize,
        cols: usize,
        rs: usize,
        cs: usize,
    ) -> MatRef<'a> {
        check_view(data.len(), rows, cols, rs, cs, "MatRef::from_slice_strided");
        MatRef {
            ptr: data.as_ptr(),
            rows,
            cols,
            rs,
            cs,
            _life: PhantomData,
        }
    }

    shape_accessors!();

    /// The transpose, as a view (no copy).
    pub fn t(self) -> MatRef<'a> {
        MatRef {
            ptr: self.ptr,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            _life: PhantomData,
        }
    }

    /// Element `(i, j)`.
    ///
    /// # Panics
    /// If `i >= rows` or `j >= cols`.
    #[track_caller]
    pub fn at(&self, i: usize, j: usize) -> f32 {
        assert!(
            i < self.rows && j < self.cols,
            "MatRef::at: ({i}, {j}) out of {} x {}",
            self.rows,
            self.cols
        );
        // SAFETY: (i, j) is inside the view, and every element of the view lies inside the
        // borrowed slice (checked when the view was made).
        unsafe { *self.ptr.add(i * self.rs + j * self.cs) }
    }

    /// Element `(i, j)` without a bounds check.
    ///
    /// # Safety
    /// `i < rows` and `j < cols`.
    #[inline(always)]
    pub(crate) unsafe fn get_unchecked(&self, i: usize, j: usize) -> f32 {
        // SAFETY: the caller keeps (i, j) inside the view, whose elements lie in the slice.
        unsafe { *self.ptr.add(i * self.rs + j * self.cs) }
    }

    /// Rows `start .. start + n` as a view (no copy).
    ///
    /// # Panics
    /// If `start + n > rows`.
    #[track_caller]
    pub fn rows_range(self, start: usize, n: usize) -> MatRef<'a> {
        assert!(
            start.checked_add(n).is_some_and(|end| end <= self.rows),
            "MatRef::rows_range: rows {start}..{start}+{n} of {}",
            self.rows
        );
        MatRef {
            // An offset inside the view, or one past it when n == 0 (never dereferenced then).
            ptr: self.ptr.wrapping_add(start * self.rs),
            rows: n,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
            _life: PhantomData,
        }
    }

    /// Pointer to element `(i, j)` (not dereferenced here; may be one past the view).
    pub(crate) fn ptr_at(&self, i: usize, j: usize) -> *const f32 {
        self.ptr.wrapping_add(i * self.rs + j * self.cs)
    }

    /// Row `i` as a slice, when the view has unit column stride.
    pub fn row(&self, i: usize) -> Option<&'a [f32]> {
        if i >= self.rows || (self.cs != 1 && self.cols > 1) {
            return None;
        }
        // SAFETY: row i spans offsets i*rs .. i*rs + cols - 1, all inside the view and hence
        // inside the borrowed slice; cs == 1 (or a single column) makes them contiguous.
        Some(unsafe { std::slice::from_raw_parts(self.ptr.add(i * self.rs), self.cols) })
    }

    /// Column `j` as a slice, when the view has unit row stride.
    pub fn col(&self, j: usize) -> Option<&'a [f32]> {
        if j >= self.cols || (self.rs != 1 && self.rows > 1) {
            return None;
        }
        // SAFETY: column j spans offsets j*cs .. j*cs + rows - 1, all inside the view and
        // hence inside the borrowed slice; rs == 1 (or a single row) makes them contiguous.
        Some(unsafe { std::slice::from_raw_parts(self.ptr.add(j * self.cs), self.rows) })
    }

    /// Copies the view into an owned row-major matrix.
    pub fn to_mat(&self) -> Mat {
        Mat::from_fn(self.rows, self.cols, |i, j| self.at(i, j))
    }
}

/// A borrowed, possibly strided, mutable f32 matrix view that reaches no element twice.
#[derive(Debug)]
pub struct MatMut<'a> {
    ptr: *mut f32,
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
    _life: PhantomData<&'a mut f32>,
}

// SAFETY: a MatMut is an exclusive borrow of distinct f32s, so it can move to another thread
// as `&mut [f32]` can.
unsafe impl Send for MatMut<'_> {}

impl<'a> MatMut<'a> {
    /// A contiguous row-major view of `data`.
    ///
    /// # Panics
    /// If `data.len() != rows * cols`.
    #[track_caller]
    pub fn from_slice(data: &'a mut [f32], rows: usize, cols: usize) -> MatMut<'a> {
        assert_eq!(
            Some(data.len()),
            rows.checked_mul(cols),
            "MatMut::from_slice: {rows} x {cols} needs {} elements, got {}",
            rows.saturating_mul(cols),
            data.len()
        );
        MatMut::from_slice_strided(data, rows, cols, cols, 1)
    }

    /// A strided mutable view: element `(i, j)` is `data[i*rs + j*cs]`.
    ///
    /// # Panics
    /// If some element lies outside `data`, or two elements of the view share an offset
    /// (the strides must satisfy `rs >= cols*cs` or `cs >= rows*rs`, for a view with more
    /// than one row and column).
    #[track_caller]
    pub fn from_slice_strided(
        data: &'a mut [f32],
        rows: usize,
        cols: usize,
        rs: usize,
        cs: usize,
    ) -> MatMut<'a> {
        check_view(data.len(), rows, cols, rs, cs, "MatMut::from_slice_strided");
        let distinct = rows <= 1 && (cols <= 1 || cs >= 1)
            || cols <= 1 && rs >= 1
            || (cs >= 1 && rs >= cols.saturating_mul(cs))
            || (rs >= 1 && cs >= rows.saturating_mul(rs));
        assert!(
            distinct || rows == 0 || cols == 0,
            "MatMut::from_slice_strided: strides ({rs}, {cs}) make a {rows} x {cols} view \
             reach some element twice"
        );
        MatMut {
            ptr: data.as_mut_ptr(),
            rows,
            cols,
            rs,
            cs,
            _life: PhantomData,
        }
    }

    shape_accessors!();

    /// A read-only view of the same elements.
    pub fn as_ref(&self) -> MatRef<'_> {
        MatRef {
            ptr: self.ptr,
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
            _life: PhantomData,
        }
    }

    /// A shorter-lived mutable view of the same elements.
    pub fn rb_mut(&mut self) -> MatMut<'_> {
        MatMut {
            ptr: self.ptr,
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
            _life: PhantomData,
        }
    }

    /// The transpose, as a view.
    pub fn t(self) -> MatMut<'a> {
        MatMut {
            ptr: self.ptr,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            _life: PhantomData,
        }
    }

    /// Raw pointer to element (0, 0), for kernels that split the view across threads.
    pub(crate) fn as_mut_ptr(&mut self) -> *mut f32 {
        self.ptr
    }

    /// Sets element `(i, j)`.
    ///
    /// # Panics
    /// If `i >= rows` or `j >= cols`.
    #[track_caller]
    pub fn set(&mut self, i: usize, j: usize, v: f32) {
        assert!(
            i < self.rows && j < self.cols,
            "MatMut::set: ({i}, {j}) out of {} x {}",
            self.rows,
            self.cols
        );
        // SAFETY: (i, j) is inside the view, whose elements lie inside the mutably borrowed
        // slice (checked when the view was made).
        unsafe { *self.ptr.add(i * self.rs + j * self.cs) = v };
    }

    /// The whole view as one mutable slice, row-major, when it is contiguous (unit column
    /// stride and row stride equal to the width).
    pub fn as_contiguous_mut(&mut self) -> Option<&mut [f32]> {
        let contiguous =
            (self.cs == 1 || self.cols <= 1) && (self.rs == self.cols || self.rows <= 1);
        if !contiguous {
            return None;
        }
        // SAFETY: with these strides the view's elements are exactly the offsets
        // 0 .. rows*cols of the slice it was made from (checked then), and `&mut self` makes
        // the borrow exclusive.
        Some(unsafe { std::slice::from_raw_parts_mut(self.ptr, self.rows * self.cols) })
    }

    /// Row `i` as a mutable slice, when the view has unit column stride.
    pub fn row_mut(&mut self, i: usize) -> Option<&mut [f32]> {
        if i >= self.rows || (self.cs != 1 && self.cols > 1) {
            return None;
        }
        // SAFETY: row i spans offsets i*rs .. i*rs + cols - 1, inside the view and the slice;
        // cs == 1 makes them contiguous, and `&mut self` makes the borrow exclusive.
        Some(unsafe { std::slice::from_raw_parts_mut(self.ptr.add(i * self.rs), self.cols) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_index_transpose_and_stride() {
        let m = Mat::from_fn(3, 4, |i, j| (10 * i + j) as f32);
        let v = m.as_ref();
        assert_eq!(v.at(2, 3), 23.0);
        assert_eq!(v.t().at(3, 2), 23.0);
        assert_eq!((v.t().rows(), v.t().cols()), (4, 3));
        // Every other column of the 3 x 4 matrix.
        let s = MatRef::from_slice_strided(m.as_slice(), 3, 2, 4, 2);
        assert_eq!(s.at(1, 1), 12.0);
        let r = v.rows_range(1, 2);
        assert_eq!((r.rows(), r.at(1, 3)), (2, 23.0));
        assert_eq!(v.t().rows_range(3, 1).at(0, 2), 23.0);
        assert_eq!(v.rows_range(3, 0).rows(), 0);
        assert_eq!(v.row(1), Some(&[10.0, 11.0, 12.0, 13.0][..]));
        assert_eq!(v.t().row(0), None);
    }

    #[test]
    #[should_panic(expected = "reaches element 14")]
    fn out_of_bounds_view_is_refused() {
        let d = [0.0f32; 12];
        MatRef::from_slice_strided(&d, 3, 4, 4, 2);
    }

    #[test]
    #[should_panic(expected = "reach some element twice")]
    fn aliasing_mutable_view_is_refused() {
        let mut d = [0.0f32; 12];
        MatMut::from_slice_strided(&mut d, 3, 3, 1, 1);
    }
}
