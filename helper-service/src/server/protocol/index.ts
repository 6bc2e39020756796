/** The protocol shared by the helper and the panel (host-free). */
export * from './errors';
export * from './messages';
export * from './settings';
