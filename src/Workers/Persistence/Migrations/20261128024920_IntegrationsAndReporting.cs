using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EventBackbone.Workers.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class IntegrationsAndReporting : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "integration_records",
                columns: table => new
                {
                    event_id = table.Column<Guid>(type: "uuid", nullable: false),
                    source = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    event_type = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    outcome = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    detail = table.Column<string>(type: "text", nullable: true),
                    recorded_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_integration_records", x => x.event_id);
                });

            migrationBuilder.CreateTable(
                name: "report_signup_funnel",
                columns: table => new
                {
                    signup_id = table.Column<Guid>(type: "uuid", nullable: false),
                    requested_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    account_created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    welcomed_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    verified_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    expired_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    rejected_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_report_signup_funnel", x => x.signup_id);
                });

            migrationBuilder.CreateTable(
                name: "report_webhooks_hourly",
                columns: table => new
                {
                    source = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    event_type = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    hour = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    count = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_report_webhooks_hourly", x => new { x.source, x.event_type, x.hour });
                });

            migrationBuilder.CreateIndex(
                name: "ix_report_signup_funnel_requested_at",
                table: "report_signup_funnel",
                column: "requested_at");

            migrationBuilder.CreateIndex(
                name: "ix_report_webhooks_hourly_hour",
                table: "report_webhooks_hourly",
                column: "hour");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "integration_records");

            migrationBuilder.DropTable(
                name: "report_signup_funnel");

            migrationBuilder.DropTable(
                name: "report_webhooks_hourly");
        }
    }
}
