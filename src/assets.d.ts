// Files imported `with { type: "file" }` resolve to a path (inside the binary once compiled).
declare module "*.binpb" {
  const path: string;
  export default path;
}
