using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EventBackbone.DeadLetters.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class InputAddressMismatch : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "input_address_mismatch",
                table: "dead_letters",
                type: "text",
                nullable: true);

            // Rows captured before the capture stopped following MT-Fault-InputAddress may hold a forged target: put
            // them back on the queue they were captured for (the replayer derives it the same way) and say so, or
            // operators would see the forged queue as where a replay goes.
            migrationBuilder.Sql("""
                UPDATE dead_letters SET
                    input_address_mismatch = format(
                        'MT-Fault-InputAddress ''%s'' names queue ''%s'', not ''%s'', the queue this message was captured for; replays go to ''%s''.',
                        headers->>'MT-Fault-InputAddress', target_queue, regexp_replace(source_queue, '_[^_]*$', ''), regexp_replace(source_queue, '_[^_]*$', '')),
                    target_queue = regexp_replace(source_queue, '_[^_]*$', '')
                WHERE target_queue <> regexp_replace(source_queue, '_[^_]*$', '')
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "input_address_mismatch",
                table: "dead_letters");
        }
    }
}
