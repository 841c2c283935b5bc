/** This labextension's version; the server compares it with the Python package's (a pytest checks
 * it equals `package.json` and `chatml_lab.__version__`). */
export const EXTENSION_VERSION = '0.1.0';
