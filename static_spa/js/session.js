// The signed-in user (from GET /api/user/me), shared by the shell and the pages.
export const session = { user: null };
