/** Software version reported in Hello/Welcome and by the CLI. */
export const VERSION = '0.1.0';
