using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EventBackbone.DeadLetters.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class ConsoleApi : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<int>(
                name: "canary",
                table: "replay_jobs",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "canary_passed",
                table: "replay_jobs",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<string>(
                name: "idempotency_key",
                table: "replay_jobs",
                type: "character varying(100)",
                maxLength: 100,
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "rate_per_second",
                table: "replay_jobs",
                type: "integer",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "group_notes",
                columns: table => new
                {
                    fingerprint = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    text = table.Column<string>(type: "character varying(2000)", maxLength: 2000, nullable: false),
                    investigating = table.Column<bool>(type: "boolean", nullable: false),
                    updated_by = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_group_notes", x => x.fingerprint);
                });

            migrationBuilder.CreateIndex(
                name: "ix_replay_jobs_created_at_id",
                table: "replay_jobs",
                columns: new[] { "created_at", "id" });

            migrationBuilder.CreateIndex(
                name: "ix_replay_jobs_requested_by_idempotency_key",
                table: "replay_jobs",
                columns: new[] { "requested_by", "idempotency_key" },
                unique: true,
                filter: "idempotency_key IS NOT NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "group_notes");

            migrationBuilder.DropIndex(
                name: "ix_replay_jobs_created_at_id",
                table: "replay_jobs");

            migrationBuilder.DropIndex(
                name: "ix_replay_jobs_requested_by_idempotency_key",
                table: "replay_jobs");

            migrationBuilder.DropColumn(
                name: "canary",
                table: "replay_jobs");

            migrationBuilder.DropColumn(
                name: "canary_passed",
                table: "replay_jobs");

            migrationBuilder.DropColumn(
                name: "idempotency_key",
                table: "replay_jobs");

            migrationBuilder.DropColumn(
                name: "rate_per_second",
                table: "replay_jobs");
        }
    }
}
