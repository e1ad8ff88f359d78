//! The one raw-pointer wrapper that crosses threads: kernels that split an output into
//! disjoint parts hand each task the base pointer and the task writes only its own part.

use crate::mat::MatMut;

/// A raw pointer that may cross threads; the kernel using it guarantees disjoint writes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SendPtr(*mut f32);

// SAFETY: every kernel that shares a SendPtr hands each task a disjoint set of elements to
// write (and nothing reads an element another task writes), so moving or sharing the pointer
// across threads creates no data race.
unsafe impl Send for SendPtr {}
// SAFETY: as above; tasks only write through it to elements they own.
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// The first element of a view (the view's borrow ends; the caller keeps the data alive
    /// and exclusively used for as long as the pointer is).
    pub(crate) fn new(mut m: MatMut<'_>) -> SendPtr {
        SendPtr(m.as_mut_ptr())
    }

    /// Wraps a pointer.
    pub(crate) fn from_raw(p: *mut f32) -> SendPtr {
        SendPtr(p)
    }

    /// The pointer (a method, so closures capture the `Send` wrapper, not the raw field).
    pub(crate) fn get(self) -> *mut f32 {
        self.0
    }
}
