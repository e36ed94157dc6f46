/** Where Flow's dashboard always is, whatever `/` serves (a user's own frontend with PUBLIC_DIR). */
export const DASHBOARD_PREFIX = '/flow/';
