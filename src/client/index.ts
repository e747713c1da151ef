/** The TypeScript client of the user channels: edge relays (through the gateway) and consumers (through Redis). */
export { RelayClient, RELAY_CLIENT_DEFAULTS, type RelayClientOptions, type RelayClientEvents } from './relay.js';
export { UserChannels, USER_CHANNELS_DEFAULTS, type UserChannelsOptions, type UserChannelInfo } from './channels.js';
export { GatewayError, type GatewayErrorCode } from './errors.js';
