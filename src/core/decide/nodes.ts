/**
 * Deciding an operator's orders to a node: cordon (nothing new placed on it), uncordon, drain
 * (its copies move elsewhere). PURE.
 */
import { accept, type Deciders, refuse } from "./decision.js";

export const nodeDeciders = {
  CordonNode(state, c, now) {
    const node = state.nodes.get(c.node);
    if (!node) return refuse({ kind: "UnknownNode", name: c.node });
    return node.schedulable ? accept([{ type: "NodeCordoned", at: now, name: c.node }]) : accept();
  },

  UncordonNode(state, c, now) {
    const node = state.nodes.get(c.node);
    if (!node) return refuse({ kind: "UnknownNode", name: c.node });
    return node.schedulable && !node.draining ? accept() : accept([{ type: "NodeUncordoned", at: now, name: c.node }]);
  },

  DrainNode(state, c, now) {
    const node = state.nodes.get(c.node);
    if (!node) return refuse({ kind: "UnknownNode", name: c.node });
    return node.draining ? accept() : accept([{ type: "NodeDrainStarted", at: now, name: c.node }]);
  },
} satisfies Partial<Deciders>;
