/** Vite's `?raw` imports: the file's text (the README's examples are checked against the API). */
declare module "*?raw" {
  const text: string;
  export default text;
}
