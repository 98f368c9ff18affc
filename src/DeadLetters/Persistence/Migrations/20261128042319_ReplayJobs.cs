using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EventBackbone.DeadLetters.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class ReplayJobs : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<int>(
                name: "claimed_by",
                table: "replay_ledger",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<Guid>(
                name: "job_id",
                table: "replay_ledger",
                type: "uuid",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "replay_jobs",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    requested_by = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    reason = table.Column<string>(type: "text", nullable: true),
                    selection = table.Column<string>(type: "text", nullable: false),
                    status = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    finished_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_replay_jobs", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "replay_job_items",
                columns: table => new
                {
                    job_id = table.Column<Guid>(type: "uuid", nullable: false),
                    message_id = table.Column<Guid>(type: "uuid", nullable: false),
                    position = table.Column<int>(type: "integer", nullable: false),
                    outcome = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_replay_job_items", x => new { x.job_id, x.message_id });
                    table.ForeignKey(
                        name: "fk_replay_job_items_replay_jobs_job_id",
                        column: x => x.job_id,
                        principalTable: "replay_jobs",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_replay_ledger_status",
                table: "replay_ledger",
                column: "status",
                filter: "status = 'pending'");

            migrationBuilder.CreateIndex(
                name: "ix_replay_job_items_job_id_position",
                table: "replay_job_items",
                columns: new[] { "job_id", "position" });

            migrationBuilder.CreateIndex(
                name: "ix_replay_jobs_status",
                table: "replay_jobs",
                column: "status",
                filter: "status = 'running'");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "replay_job_items");

            migrationBuilder.DropTable(
                name: "replay_jobs");

            migrationBuilder.DropIndex(
                name: "ix_replay_ledger_status",
                table: "replay_ledger");

            migrationBuilder.DropColumn(
                name: "claimed_by",
                table: "replay_ledger");

            migrationBuilder.DropColumn(
                name: "job_id",
                table: "replay_ledger");
        }
    }
}
