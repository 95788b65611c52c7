// Package dag analyses the dependency graph of a workflow's steps.
//
// Nodes are workflow steps identified by their int64 workflow_step_id and
// carry a name that is only used in messages. An edge from -> to means that
// "to" depends on "from": from is the parent (the provider), to is the child
// (the dependent) and may only run after its parents have completed.
//
// The package is pure computation: no I/O, no database access, no cgo.
// Every algorithm is iterative (no recursion, so a 10,000+ step chain cannot
// exhaust the stack) and runs in O(V+E), apart from sorting node ids once
// per query. Results never depend on insertion order: wherever a choice has
// to be made, the lowest step id wins.
//
// A Graph is not safe for concurrent mutation. Its read-only methods
// (Len, Parents, Children, Name, FindCycle, Levels, Analyze) keep no cached
// state and may be called concurrently as long as nobody mutates the graph.
//
// # Start here
//
// Build a Graph with New, AddNode and AddEdge (an unknown node, a duplicate or a
// self-dependency is an error), then ask FindCycle (a *CycleError naming the
// steps in order) or Analyze: the levels (roots at 0, a child one below its
// deepest parent), roots and leaves, the critical path, the parallel branches and
// the bottlenecks. core/store.Store.TaskGraph builds the Graph of a stored task,
// and the JSON API's analyze_dependencies answers its Analysis.
package dag
