/**
 * The MCP23017 register map (datasheet DS20001952, table 3-1/3-2). The chip
 * has two address layouts selected by IOCON.BANK: with BANK=0 (power-on
 * default) the A and B registers alternate (IODIRA 0x00, IODIRB 0x01, …);
 * with BANK=1 the A registers sit at 0x00–0x0A and the B registers at
 * 0x10–0x1A.
 */
export type Port = 'A' | 'B';

export const REGISTER_NAMES = [
  'IODIR',
  'IPOL',
  'GPINTEN',
  'DEFVAL',
  'INTCON',
  'IOCON',
  'GPPU',
  'INTF',
  'INTCAP',
  'GPIO',
  'OLAT',
] as const;
export type RegisterName = (typeof REGISTER_NAMES)[number];

/** IOCON bits. */
export const IOCON_BANK = 0x80;
export const IOCON_MIRROR = 0x40;
export const IOCON_SEQOP = 0x20;

/** The register address of `name` on `port` in the given bank layout. */
export function registerAddress(name: RegisterName, port: Port, bank: 0 | 1): number {
  const i = REGISTER_NAMES.indexOf(name);
  const b = port === 'B' ? 1 : 0;
  return bank === 0 ? i * 2 + b : i + b * 0x10;
}

/** The register at `address` in the given bank layout, or undefined when unimplemented. */
export function registerAt(address: number, bank: 0 | 1): { name: RegisterName; port: Port } | undefined {
  if (bank === 0) {
    if (address < 0 || address > 0x15) return undefined;
    const name = REGISTER_NAMES[address >> 1];
    return name ? { name, port: address & 1 ? 'B' : 'A' } : undefined;
  }
  const port: Port = address >= 0x10 ? 'B' : 'A';
  const name = REGISTER_NAMES[address & 0x0f];
  if (address > 0x1a || (address & 0x0f) > 0x0a) return undefined;
  return name ? { name, port } : undefined;
}

/** BANK=0 addresses used by the driver after it has forced BANK=0. */
export const BANK0 = {
  IODIRA: registerAddress('IODIR', 'A', 0),
  IODIRB: registerAddress('IODIR', 'B', 0),
  IPOLA: registerAddress('IPOL', 'A', 0),
  IPOLB: registerAddress('IPOL', 'B', 0),
  GPINTENA: registerAddress('GPINTEN', 'A', 0),
  GPINTENB: registerAddress('GPINTEN', 'B', 0),
  IOCON: registerAddress('IOCON', 'A', 0),
  GPPUA: registerAddress('GPPU', 'A', 0),
  GPPUB: registerAddress('GPPU', 'B', 0),
  GPIOA: registerAddress('GPIO', 'A', 0),
  GPIOB: registerAddress('GPIO', 'B', 0),
  OLATA: registerAddress('OLAT', 'A', 0),
  OLATB: registerAddress('OLAT', 'B', 0),
} as const;

/**
 * The one address that is harmless in both layouts and reaches IOCON when
 * BANK=1: 0x05 is IOCON with BANK=1 and GPINTENB (interrupt enables, off
 * anyway) with BANK=0. Writing 0x00 there forces BANK=0 without touching an
 * output latch — unlike 0x0A, which is OLATA with BANK=1.
 */
export const BANK_RESET_ADDRESS = 0x05;

/** Lowest and highest address selectable with A2..A0. */
export const MCP23017_MIN_ADDRESS = 0x20;
export const MCP23017_MAX_ADDRESS = 0x27;
