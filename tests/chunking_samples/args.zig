const std = @import("std");
const mem = std.mem;
const testing = std.testing;

/// Optional parameter, parsed from the command line.
pub const Param = struct {
    id: []const u8,
    takes_value: bool = false,

    /// Returns whether `arg` names this parameter.
    pub fn matches(param: Param, arg: []const u8) bool {
        return mem.eql(u8, param.id, arg);
    }
};

pub const Error = error{ MissingValue, InvalidArgument };

pub const Kind = enum {
    flag,
    option,

    pub fn isFlag(self: Kind) bool {
        return self == .flag;
    }
};

const Value = union(enum) {
    none,
    string: []const u8,
};

pub fn Parser(comptime params: []const Param) type {
    return struct {
        const Self = @This();

        args: []const []const u8,
        index: usize = 0,

        pub fn next(self: *Self) ?[]const u8 {
            if (self.index >= self.args.len) return null;
            defer self.index += 1;
            return self.args[self.index];
        }
    };
}

// Parses all arguments.
pub fn parse(allocator: mem.Allocator, args: []const []const u8) Error!void {
    _ = allocator;
    for (args) |arg| {
        if (arg.len == 0) return error.InvalidArgument;
    }
}

test "Param.matches" {
    const p = Param{ .id = "help" };
    try testing.expect(p.matches("help"));
}

test parse {
    try parse(testing.allocator, &.{});
}
