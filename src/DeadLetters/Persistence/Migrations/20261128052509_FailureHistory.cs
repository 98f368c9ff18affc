using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace EventBackbone.DeadLetters.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class FailureHistory : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "dead_letter_failures",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityAlwaysColumn),
                    message_id = table.Column<Guid>(type: "uuid", nullable: false),
                    failed_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    source_queue = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: false),
                    exception_type = table.Column<string>(type: "character varying(500)", maxLength: 500, nullable: true),
                    exception_message = table.Column<string>(type: "text", nullable: true),
                    host = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_dead_letter_failures", x => x.id);
                    table.ForeignKey(
                        name: "fk_dead_letter_failures_dead_letters_message_id",
                        column: x => x.message_id,
                        principalTable: "dead_letters",
                        principalColumn: "message_id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_dead_letter_failures_message_id_failed_at",
                table: "dead_letter_failures",
                columns: new[] { "message_id", "failed_at" },
                unique: true);

            // Dead letters captured before the history existed: their last failure is their first history row.
            migrationBuilder.Sql("""
                INSERT INTO dead_letter_failures (message_id, failed_at, source_queue, exception_type, exception_message, host)
                SELECT message_id, last_failed_at, source_queue, exception_type, exception_message, host FROM dead_letters
                ON CONFLICT (message_id, failed_at) DO NOTHING
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "dead_letter_failures");
        }
    }
}
