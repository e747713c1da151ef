/**
 * The commands on `actuators:commands` (and announced on `control:command`):
 * device, setpoint and reload. Their schemas live with the control domain
 * that parses them; this is the contracts' one door to them.
 */
export {
  DeviceCommandSchema,
  ReloadCommandSchema,
  SetpointCommandSchema,
  type DeviceCommand,
  type ReloadCommand,
  type SetpointCommand,
} from '../cea/control/commands.js';
