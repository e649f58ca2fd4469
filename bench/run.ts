/**
 * `npm run bench`: runs every benchmark in this folder in turn. Each prints its
 * figures as ratios against a baseline measured in the same run.
 */
await import("./policy.js");
